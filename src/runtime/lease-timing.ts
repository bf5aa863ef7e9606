/** client-go's rules: the Lease outlives the renew deadline, which outlasts a jittered retry. */
export function leaseTimingProblem(t: {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}): string | undefined {
  if (t.leaseDurationMs <= t.renewDeadlineMs) {
    return `lease duration (${t.leaseDurationMs} ms) must be greater than the renew deadline (${t.renewDeadlineMs} ms)`;
  }
  if (t.renewDeadlineMs <= t.retryPeriodMs * 1.2) {
    return `renew deadline (${t.renewDeadlineMs} ms) must be greater than 1.2 × the retry period (${t.retryPeriodMs} ms)`;
  }
  return undefined;
}
