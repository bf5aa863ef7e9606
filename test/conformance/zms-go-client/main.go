// zms-go-client drives a ZMS server through the official Athenz Go client
// (github.com/AthenZ/athenz/clients/go/zms) and prints what the client made of each answer,
// so that the conformance suite (test/integration/conformance) can judge the ZMS test server
// by a client nobody here wrote.
//
//	zms-go-client -z URL -cert FILE -key FILE -c CA COMMAND ARGS...
//
// Every command makes one client call and prints one JSON object on stdout:
//
//	{"result": <the decoded answer>, "etag": "<ETag, for the calls that return one>"}
//
// A 304 prints "result": null. Each answer is checked twice against ZMS's RDL schema, which
// ships with the client: the body as the server sent it (rdl.Validate on the raw JSON: field
// types, name patterns, timestamp formats, required fields) and the decoded value (the type's
// own Validate()), so an answer the real ZMS could not have given fails here.
// Exit codes: 0 success; 1 ZMS answered with an error, printed as
// {"error": {"code": N, "message": "..."}}; 2 anything else (usage, transport, an answer
// the client could not decode or that does not validate), on stderr.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"

	"github.com/AthenZ/athenz/clients/go/zms"
	"github.com/ardielle/ardielle-go/rdl"
)

const auditRef = "conformance"

func main() {
	url := flag.String("z", "", "ZMS URL, https://host:port/zms/v1")
	certFile := flag.String("cert", "", "client certificate (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	caFile := flag.String("c", "", "CA certificate of the server (PEM)")
	flag.Parse()
	if *url == "" || flag.NArg() == 0 {
		fail("usage: zms-go-client -z URL -cert FILE -key FILE -c CA COMMAND ARGS...")
	}
	transport, err := mtlsTransport(*certFile, *keyFile, *caFile)
	if err != nil {
		fail(err.Error())
	}
	recorder := &bodyRecorder{next: transport}
	client := zms.NewClient(*url, recorder)
	command := flag.Arg(0)
	result, etag, err := run(&client, command, flag.Args()[1:])
	var zmsErr rdl.ResourceError
	if errors.As(err, &zmsErr) {
		print(map[string]any{"error": map[string]any{"code": zmsErr.Code, "message": zmsErr.Message}})
		os.Exit(1)
	}
	if err != nil {
		fail(err.Error())
	}
	if typeName := answerType(command, flag.Args()[1:]); typeName != "" && recorder.status == http.StatusOK {
		if err := validateRaw(typeName, recorder.body); err != nil {
			fail(err.Error())
		}
	}
	if v, ok := result.(interface{ Validate() error }); ok && !isNil(result) {
		if err := v.Validate(); err != nil {
			fail("the answer does not validate against the ZMS schema: " + err.Error())
		}
	}
	out := map[string]any{"result": result}
	if etag != nil {
		out["etag"] = *etag
	}
	print(out)
}

// run makes the client call COMMAND names; the etag is returned by the calls that have one.
func run(c *zms.ZMSClient, command string, args []string) (any, *string, error) {
	yes := true
	arg := func(i int) string {
		if i >= len(args) {
			fail(fmt.Sprintf("%s: missing argument %d", command, i+1))
		}
		return args[i]
	}
	optional := func(i int) string {
		if i >= len(args) {
			return ""
		}
		return args[i]
	}
	switch command {
	case "get-domain":
		r, err := c.GetDomain(zms.DomainName(arg(0)))
		return r, nil, err
	case "get-domain-list": // [prefix [depth [limit [skip [modifiedSince]]]]]
		r, err := c.GetDomainList(int32Arg(optional(2)), optional(3), optional(0), int32Arg(optional(1)),
			"", nil, "", "", "", "", "", "", "", "", optional(4))
		return r, nil, err
	case "post-top-level-domain": // name admin...
		r, err := c.PostTopLevelDomain(auditRef, "", &zms.TopLevelDomain{
			Name: zms.SimpleName(arg(0)), AdminUsers: resourceNames(args[1:]),
		})
		return r, nil, err
	case "post-subdomain": // parent name admin...
		r, err := c.PostSubDomain(zms.DomainName(arg(0)), auditRef, "", &zms.SubDomain{
			Name: zms.SimpleName(arg(1)), Parent: zms.DomainName(arg(0)), AdminUsers: resourceNames(args[2:]),
		})
		return r, nil, err
	case "delete-subdomain": // parent name
		return nil, nil, c.DeleteSubDomain(zms.DomainName(arg(0)), zms.SimpleName(arg(1)), auditRef, "")
	case "delete-top-level-domain":
		return nil, nil, c.DeleteTopLevelDomain(zms.SimpleName(arg(0)), auditRef, "")
	case "get-roles": // domain: every role with its members, as the operator asks
		r, err := c.GetRoles(zms.DomainName(arg(0)), &yes, "", "")
		return r, nil, err
	case "get-role": // domain role [expand]
		var expand *bool
		if optional(2) == "expand" {
			expand = &yes
		}
		r, err := c.GetRole(zms.DomainName(arg(0)), zms.EntityName(arg(1)), nil, expand, nil)
		return r, nil, err
	case "put-role": // domain role, the Role as JSON on stdin; prints the returned object
		var role zms.Role
		readBody(&role)
		r, err := c.PutRole(zms.DomainName(arg(0)), zms.EntityName(arg(1)), auditRef, &yes, "", &role)
		return r, nil, err
	case "delete-role":
		return nil, nil, c.DeleteRole(zms.DomainName(arg(0)), zms.EntityName(arg(1)), auditRef, "")
	case "get-membership": // domain role member
		r, err := c.GetMembership(zms.DomainName(arg(0)), zms.EntityName(arg(1)), zms.MemberName(arg(2)), "")
		return r, nil, err
	case "put-membership": // domain role member [expiration, RFC 3339]
		m := zms.Membership{MemberName: zms.MemberName(arg(2)), Expiration: timestampArg(optional(3))}
		r, err := c.PutMembership(zms.DomainName(arg(0)), zms.EntityName(arg(1)), m.MemberName, auditRef, &yes, "", &m)
		return r, nil, err
	case "delete-membership": // domain role member
		return nil, nil, c.DeleteMembership(zms.DomainName(arg(0)), zms.EntityName(arg(1)), zms.MemberName(arg(2)), auditRef, "")
	case "get-group": // domain group
		r, err := c.GetGroup(zms.DomainName(arg(0)), zms.EntityName(arg(1)), nil, nil)
		return r, nil, err
	case "put-group": // domain group, the Group as JSON on stdin
		var group zms.Group
		readBody(&group)
		r, err := c.PutGroup(zms.DomainName(arg(0)), zms.EntityName(arg(1)), auditRef, &yes, "", &group)
		return r, nil, err
	case "get-groups": // domain: every group with its members
		r, err := c.GetGroups(zms.DomainName(arg(0)), &yes, "", "")
		return r, nil, err
	case "delete-group": // domain group
		return nil, nil, c.DeleteGroup(zms.DomainName(arg(0)), zms.EntityName(arg(1)), auditRef, "")
	case "get-group-membership": // domain group member
		r, err := c.GetGroupMembership(zms.DomainName(arg(0)), zms.EntityName(arg(1)), zms.GroupMemberName(arg(2)), "")
		return r, nil, err
	case "put-group-membership": // domain group member [expiration, RFC 3339]
		m := zms.GroupMembership{MemberName: zms.GroupMemberName(arg(2)), Expiration: timestampArg(optional(3))}
		r, err := c.PutGroupMembership(zms.DomainName(arg(0)), zms.EntityName(arg(1)), m.MemberName, auditRef, &yes, "", &m)
		return r, nil, err
	case "delete-group-membership": // domain group member
		return nil, nil, c.DeleteGroupMembership(zms.DomainName(arg(0)), zms.EntityName(arg(1)), zms.GroupMemberName(arg(2)), auditRef, "")
	case "put-policy": // domain policy, the Policy as JSON on stdin
		var policy zms.Policy
		readBody(&policy)
		r, err := c.PutPolicy(zms.DomainName(arg(0)), zms.EntityName(arg(1)), auditRef, &yes, "", &policy)
		return r, nil, err
	case "get-signed-domains": // [domain [metaonly [tag]]]: the operator's change detection and ZTS's
		r, tag, err := c.GetSignedDomains(zms.DomainName(optional(0)), optional(1), "", nil, nil, optional(2))
		return r, &tag, err
	case "get-jws-domain": // domain [tag]: the payload decoded into DomainData
		r, tag, err := c.GetJWSDomain(zms.DomainName(arg(0)), nil, optional(1))
		if err != nil || r == nil {
			return nil, &tag, err
		}
		data, err := jwsPayload(r)
		return data, &tag, err
	}
	fail("unknown command " + command)
	return nil, nil, nil
}

// answerType names the RDL type of a command's 200 answer ("" when the schema does not
// describe it: a metaonly SignedDomains carries only name, modified and enabled of each
// DomainData, whose roles, policies, services and entities the schema requires; ZMS
// answers so too, and the client decodes it).
func answerType(command string, args []string) string {
	if command == "get-signed-domains" && len(args) > 1 && args[1] == "true" {
		return ""
	}
	return answerTypes[command]
}

var answerTypes = map[string]string{
	"get-domain":            "Domain",
	"get-domain-list":       "DomainList",
	"post-top-level-domain": "Domain",
	"post-subdomain":        "Domain",
	"get-roles":             "Roles",
	"get-role":              "Role",
	"put-role":              "Role",
	"get-membership":        "Membership",
	"put-membership":        "Membership",
	"get-group":             "Group",
	"get-groups":            "Groups",
	"get-group-membership":  "GroupMembership",
	"put-group-membership":  "GroupMembership",
	"put-group":             "Group",
	"put-policy":            "Policy",
	"get-signed-domains":    "SignedDomains",
	"get-jws-domain":        "JWSDomain",
}

// validateRaw checks an answer body, as sent, against an RDL type of ZMS's schema.
func validateRaw(typeName string, body []byte) error {
	var generic any
	if err := json.Unmarshal(body, &generic); err != nil {
		return fmt.Errorf("the answer is not JSON: %w", err)
	}
	if v := rdl.Validate(zms.ZMSSchema(), typeName, generic); !v.Valid {
		return fmt.Errorf("the answer is not a valid %s: %s", typeName, v.Error)
	}
	return nil
}

// bodyRecorder keeps the last answer's status and body, which the client consumes itself.
type bodyRecorder struct {
	next   http.RoundTripper
	status int
	body   []byte
}

func (r *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.status, r.body = resp.StatusCode, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func jwsPayload(jws *zms.JWSDomain) (*zms.DomainData, error) {
	if err := jws.Validate(); err != nil {
		return nil, fmt.Errorf("the JWSDomain does not validate: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return nil, fmt.Errorf("the JWS payload is not base64url: %w", err)
	}
	if err := validateRaw("DomainData", payload); err != nil {
		return nil, fmt.Errorf("the JWS payload: %w", err)
	}
	var data zms.DomainData
	if err := json.Unmarshal(payload, &data); err != nil {
		return nil, fmt.Errorf("the JWS payload is not DomainData: %w", err)
	}
	return &data, nil
}

func mtlsTransport(certFile, keyFile, caFile string) (*http.Transport, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}, nil
}

func readBody(into any) {
	if err := json.NewDecoder(os.Stdin).Decode(into); err != nil {
		fail("reading the request body from stdin: " + err.Error())
	}
}

func resourceNames(names []string) []zms.ResourceName {
	out := make([]zms.ResourceName, len(names))
	for i, n := range names {
		out[i] = zms.ResourceName(n)
	}
	return out
}

func timestampArg(s string) *rdl.Timestamp {
	if s == "" {
		return nil
	}
	t, err := rdl.TimestampParse(s)
	if err != nil {
		fail(err.Error())
	}
	return &t
}

func int32Arg(s string) *int32 {
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		fail("not a number: " + s)
	}
	v := int32(n)
	return &v
}

// isNil tells a nil answer, typed (a 304's) or not, from a value.
func isNil(v any) bool {
	r := reflect.ValueOf(v)
	return v == nil || (r.Kind() == reflect.Pointer && r.IsNil())
}

func print(v any) {
	out, err := json.Marshal(v)
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(string(out))
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "zms-go-client: "+message)
	os.Exit(2)
}
