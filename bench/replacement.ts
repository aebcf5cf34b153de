/**
 * replacement: STUB — needs services (issue 4).
 *
 * Will measure how long bosun takes to replace a service task that dies (kill -9 of a container → a new task RUNNING), and how many tasks are lost or duplicated.
 * It needs CreateService/DescribeServices and the service scheduler in the control plane, which do not
 * exist yet. Until then it prints that and exits 0; it never reports a number.
 *
 *   node --import tsx bench/replacement.ts [--smoke]
 */
import { log, main, report } from './lib.ts';

main(async () => {
  log('replacement: needs services (issue 4)');
  report(
    'replacement',
    'replacement',
    [{ metric: 'replacement', value: 'not measured', note: 'needs services (issue 4)' }],
    { reason: 'needs services (issue 4)' },
    {},
    'skipped',
  );
});
