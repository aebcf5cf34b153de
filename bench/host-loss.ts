/**
 * host-loss: STUB — needs services (issue 4).
 *
 * Will measure how long bosun takes to move a service's tasks off a host that disappears (scripts/hosts stop-host → agent silent past BOSUN_AGENT_TIMEOUT_SECONDS → replacements RUNNING elsewhere).
 * It needs CreateService/DescribeServices and the service scheduler in the control plane, which do not
 * exist yet. Until then it prints that and exits 0; it never reports a number.
 *
 *   node --import tsx bench/host-loss.ts [--smoke]
 */
import { log, main, report } from './lib.ts';

main(async () => {
  log('host-loss: needs services (issue 4)');
  report(
    'host-loss',
    'host-loss',
    [{ metric: 'host-loss', value: 'not measured', note: 'needs services (issue 4)' }],
    { reason: 'needs services (issue 4)' },
    {},
    'skipped',
  );
});
