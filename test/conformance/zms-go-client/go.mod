module athenz-rbac-operator/zms-go-client

go 1.23.0

require (
	github.com/AthenZ/athenz v1.12.13
	github.com/ardielle/ardielle-go v1.5.2
)
