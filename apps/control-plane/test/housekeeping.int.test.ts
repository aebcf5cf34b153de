import {
  CreateClusterCommand,
  CreateServiceCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { ACCOUNT, REGION } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUSEKEEPING_LIMITS, type HousekeepingReport, housekeeping } from '../src/workers/housekeeping.ts';
import type { RetentionKind } from '../src/workers/retention.ts';

/**
 * Retention over a generated backlog: 200,000 STOPPED tasks past their retention and what they hold
 * (requests, deregistered instances, tags), old service events, abandoned requests — next to rows of
 * every kind that must stay (within retention, live, still named by a task). Two control-plane
 * processes run housekeeping at once. Every figure is counted in Postgres: what is left, and — from a
 * statement-level trigger on each table — how many rows each statement removed.
 */

let cp: TestControlPlane;
let cp2: TestControlPlane;
let clusterId = '';
let serviceId = '';
const BACKLOG = 200_000;
const ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}`;

const deps = (plane: TestControlPlane) => ({
  db: plane.database.db,
  scope: { region: REGION, accountId: ACCOUNT },
  settings: plane.settings,
  notifier: plane.runtime.notifier,
  clock: () => new Date(),
  health: plane.health,
  log: pino({ level: 'silent' }),
});

beforeAll(async () => {
  // No workers: the only housekeeping is the test's own.
  cp = await startControlPlane({ workers: false });
  cp2 = await startControlPlane({ shareWith: cp, workers: false });
  await cp.ecs.send(new CreateClusterCommand({ clusterName: 'churn' }));
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'app',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }],
    }),
  );
  await cp.ecs.send(
    new CreateServiceCommand({
      cluster: 'churn',
      serviceName: 'web',
      taskDefinition: 'app',
      desiredCount: 0,
    }),
  );
  const sql = cp.database.sql;
  const [cluster] = await sql<{ id: string }[]>`select id from clusters where name = 'churn'`;
  const [service] = await sql<{ id: string }[]>`select id from services where name = 'web'`;
  clusterId = cluster?.id ?? '';
  serviceId = service?.id ?? '';
  // Postgres' own record of every removal: one row per statement, with how many rows it removed.
  await sql.unsafe(`
    create table removal_log (tbl text not null, op text not null, n int not null);
    create function log_removal() returns trigger language plpgsql as $$
      begin
        insert into removal_log select TG_TABLE_NAME, TG_OP, count(*) from gone;
        return null;
      end $$;
    create trigger tasks_removals after delete on tasks referencing old table as gone
      for each statement execute function log_removal();
    create trigger events_removals after delete on service_events referencing old table as gone
      for each statement execute function log_removal();
    create trigger instances_removals after delete on container_instances referencing old table as gone
      for each statement execute function log_removal();
    create trigger requests_removals after delete on placement_requests referencing old table as gone
      for each statement execute function log_removal();
    create trigger requests_cancels after update on placement_requests referencing old table as gone
      for each statement execute function log_removal();`);
}, 60_000);

afterAll(async () => {
  await cp2?.close();
  await cp?.close();
});

/**
 * Rows of every kind, each labelled by what must become of it: `*-gone` rows are past their retention,
 * `*-kept` ones are not (or are live, or still named). Times are relative to Postgres' now(), as
 * housekeeping's are. Defaults: tasks 1 h, events 7 days, instances 1 h, requests 24 h.
 */
async function generateBacklog(tasks: number): Promise<void> {
  const sql = cp.database.sql;
  const c = clusterId;
  await sql.begin(async (tx) => {
    // Container instances: label in hostname.
    await tx`
      insert into container_instances (cluster_id, status, hostname, updated_at)
      select ${c}, s.status, s.label, now() - s.age
        from (values ('INACTIVE', 'ci-old-gone', interval '2 hours', 40),
                     ('INACTIVE', 'ci-old-held', interval '2 hours', 10),
                     ('INACTIVE', 'ci-old-freed', interval '2 hours', 10),
                     ('INACTIVE', 'ci-recent-kept', interval '10 minutes', 10),
                     ('ACTIVE', 'ci-active-kept', interval '30 days', 5),
                     ('DRAINING', 'ci-draining-kept', interval '30 days', 5)) as s(status, label, age, n),
             generate_series(1, s.n)`;
    // Placement requests: label in the spec.
    await tx`
      insert into placement_requests (cluster_id, client_token, status, spec, created_at, completed_at)
      select ${c}, case when g % 2 = 0 then s.label || '-' || g end, s.status,
             jsonb_build_object('label', s.label), now() - s.age,
             case when s.status <> 'PENDING' then now() - s.age end
        from (values ('pr-freed', 'DONE', interval '2 days', 20000),
                     ('pr-old-gone', 'DONE', interval '2 days', 5000),
                     ('pr-cancelled-gone', 'CANCELLED', interval '3 days', 500),
                     ('pr-running-kept', 'DONE', interval '3 days', 100),
                     ('pr-recent-kept', 'DONE', interval '1 hour', 500),
                     ('pr-abandoned-kept', 'PENDING', interval '1 hour', 50),
                     ('pr-abandoned-gone', 'PENDING', interval '2 days', 30),
                     ('pr-fresh-kept', 'PENDING', interval '1 minute', 20)) as s(label, status, age, n),
             generate_series(1, s.n) as g`;
    const requests = (label: string) =>
      tx`select array_agg(id order by id) as ids from placement_requests where spec ->> 'label' = ${label}`;
    const instances = (label: string) =>
      tx`select array_agg(id order by id) as ids from container_instances where hostname = ${label}`;
    const [freed] = await requests('pr-freed');
    const [running] = await requests('pr-running-kept');
    const [freedHosts] = await instances('ci-old-freed');
    const [heldHosts] = await instances('ci-old-held');
    const [liveHosts] = await instances('ci-active-kept');
    // The backlog: STOPPED long ago, on freed hosts and named by freed requests; every tenth a service task.
    await tx`
      insert into tasks (id, cluster_id, container_instance_id, placement_request_id, service_id, family,
                         revision, "group", last_status, desired_status, stopped_reason, stopped_at,
                         updated_at)
      select md5('old' || g), ${c}, (${freedHosts?.ids}::uuid[])[1 + g % 10],
             (${freed?.ids}::uuid[])[1 + g % 20000], case when g % 10 = 0 then ${serviceId}::uuid end,
             'app', 1, 'family:app', 'STOPPED', 'STOPPED', 'task-old-gone',
             now() - interval '2 hours' - g * interval '1 millisecond',
             now() - interval '2 hours'
        from generate_series(1, ${tasks}) as g`;
    await tx`
      insert into tasks (id, cluster_id, container_instance_id, service_id, family, revision, "group",
                         last_status, desired_status, stopped_reason, stopped_at, updated_at)
      select md5(s.label || g), ${c}, case when s.label = 'task-recent-kept' then (${heldHosts?.ids}::uuid[])[1 + g % 10] end,
             ${serviceId}, 'app', 1, 'family:app', 'STOPPED', 'STOPPED', s.label, now() + s.stopped, now() - s.recorded
        from (values ('task-recent-kept', interval '-30 minutes', interval '30 minutes', 1000),
                     ('task-ahead-gone', interval '975 years', interval '2 hours', 50),
                     ('task-ahead-kept', interval '975 years', interval '5 minutes', 10)) as s(label, stopped, recorded, n),
             generate_series(1, s.n) as g`;
    // Live tasks on live hosts, last changed long ago, named by old requests: all stay.
    await tx`
      insert into tasks (id, cluster_id, container_instance_id, placement_request_id, family, revision,
                         "group", last_status, desired_status, stopped_reason, updated_at)
      select md5('live' || g), ${c}, (${liveHosts?.ids}::uuid[])[1 + g % 5],
             (${running?.ids}::uuid[])[1 + g % 100], 'app', 1, 'family:app', 'RUNNING', 'RUNNING',
             'task-live-kept', now() - interval '3 days'
        from generate_series(1, 500) as g`;
    // Tags: on 1,000 old tasks (gone with them), 100 recent ones and the live ones (kept), and hosts.
    await tx`
      insert into tags (resource_arn, key, value)
      select ${`${ARN}:task/churn/`} || t.id, 'k', t.stopped_reason
        from ((select id, stopped_reason from tasks where stopped_reason = 'task-old-gone' order by id limit 1000)
              union all
              (select id, stopped_reason from tasks where stopped_reason = 'task-recent-kept' order by id limit 100)
              union all
              (select id, stopped_reason from tasks where stopped_reason = 'task-live-kept')) as t`;
    await tx`
      insert into tags (resource_arn, key, value)
      select ${`${ARN}:container-instance/churn/`} || ci.id, 'k', ci.hostname from container_instances ci`;
    // Events: a long history of the service, and its recent ones.
    await tx`
      insert into service_events (service_id, created_at, message)
      select ${serviceId}, now() - s.age - g * interval '1 second', s.label
        from (values ('ev-old-gone', interval '8 days', 5000),
                     ('ev-recent-kept', interval '1 day', 100)) as s(label, age, n),
             generate_series(1, s.n) as g`;
  });
  await sql`analyze`;
}

/** What is left, by label. */
async function census(): Promise<Record<string, number>> {
  const rows = await cp.database.sql<{ label: string; n: number }[]>`
    select stopped_reason as label, count(*)::int as n from tasks where cluster_id = ${clusterId} group by 1
    union all select hostname, count(*)::int from container_instances where cluster_id = ${clusterId} group by 1
    union all select spec ->> 'label', count(*)::int from placement_requests where cluster_id = ${clusterId} group by 1
    union all select message, count(*)::int from service_events where service_id = ${serviceId} group by 1
    union all select 'tags:' || value, count(*)::int from tags where value like 'task-%' or value like 'ci-%' group by 1
    union all select 'pending(' || (spec ->> 'label') || ')', count(*)::int from placement_requests
               where cluster_id = ${clusterId} and status = 'PENDING' group by 1`;
  return Object.fromEntries(rows.map((r) => [r.label, r.n]));
}

const sum = (reports: HousekeepingReport[], kind: RetentionKind) =>
  reports.reduce((n, r) => n + r.removed[kind], 0);

describe('housekeeping retention', () => {
  it(`removes a backlog of ${BACKLOG.toLocaleString('en')} stopped tasks and all past retention in bounded statements, two processes at once; keeps the rest`, async () => {
    await generateBacklog(BACKLOG);
    const before = await census();
    expect(before['task-old-gone']).toBe(BACKLOG);

    const t0 = performance.now();
    const reports = await Promise.all([housekeeping(deps(cp)), housekeeping(deps(cp2))]);
    const seconds = (performance.now() - t0) / 1000;
    const after = await census();

    // Everything past retention is gone…
    for (const label of Object.keys(before).filter((l) => l.endsWith('-gone')))
      expect({ label, left: after[label] ?? 0 }).toEqual({ label, left: 0 });
    expect(after['ci-old-freed'] ?? 0).toBe(0);
    expect(after['tags:ci-old-freed'] ?? 0).toBe(0);
    expect(after['pr-freed'] ?? 0).toBe(0);
    // …and nothing within retention, live, or still named by a task is touched.
    for (const label of Object.keys(before).filter((l) => l.endsWith('-kept') || l.endsWith('-held')))
      expect({ label, left: after[label] }).toEqual({ label, left: before[label] });
    // Abandoned requests are cancelled (the recent ones kept, as CANCELLED); fresh ones stay PENDING.
    expect(after['pending(pr-abandoned-kept)'] ?? 0).toBe(0);
    expect(after['pending(pr-fresh-kept)']).toBe(20);

    // Each row removed once: the two processes shared the work without counting anything twice.
    expect(sum(reports, 'stoppedTasks')).toBe(BACKLOG + 50);
    expect(sum(reports, 'serviceEvents')).toBe(5000);
    expect(sum(reports, 'inactiveInstances')).toBe(50);
    expect(sum(reports, 'placementRequests')).toBe(20000 + 5000 + 500 + 30);
    expect(sum(reports, 'abandonedRequests')).toBe(80);
    for (const r of reports) expect(r.finished).toBe(true);

    // Bounded: Postgres' log of every statement that removed rows.
    const log = await cp.database.sql<
      { tbl: string; op: string; statements: number; max: number; total: number }[]
    >`
      select tbl, op, count(*)::int as statements, max(n)::int as max, sum(n)::int as total
        from removal_log where n > 0 group by tbl, op order by tbl, op`;
    for (const row of log) expect(row.max).toBeLessThanOrEqual(HOUSEKEEPING_LIMITS.batchSize);
    const tasksLog = log.find((r) => r.tbl === 'tasks');
    expect(tasksLog?.total).toBe(BACKLOG + 50);
    expect(tasksLog?.statements).toBeGreaterThanOrEqual(Math.ceil(BACKLOG / HOUSEKEEPING_LIMITS.batchSize));
    console.log(
      `[retention] ${BACKLOG} stopped tasks (+ ${5000} events, 50 hosts, ${25530} requests) removed by two processes in ${seconds.toFixed(1)} s ` +
        `(${Math.round((BACKLOG + 5000 + 25530) / seconds)} rows/s); statements per table: ` +
        log.map((r) => `${r.tbl} ${r.op.toLowerCase()} ${r.statements} (max ${r.max} rows)`).join(', ') +
        `; tasks removed by each process: ${reports.map((r) => r.removed.stoppedTasks).join(' + ')}`,
    );

    // Run again, both at once: nothing left to do, nothing else touched.
    const again = await Promise.all([housekeeping(deps(cp)), housekeeping(deps(cp2))]);
    for (const r of again) expect(r.largestBatch).toBe(0);
    expect(await census()).toEqual(after);
  }, 120_000);

  it('a tiny time budget still makes progress on every kind in every run, and the runs finish the job', async () => {
    await cp.database.sql`truncate removal_log`;
    await cp.database.sql`
      insert into service_events (service_id, created_at, message)
      select ${serviceId}, now() - interval '30 days', 'ev-old-gone' from generate_series(1, 2500)`;
    await cp.database.sql`
      insert into tasks (id, cluster_id, family, revision, "group", last_status, desired_status, stopped_reason,
                         stopped_at, updated_at)
      select md5('again' || g), ${clusterId}, 'app', 1, 'family:app', 'STOPPED', 'STOPPED', 'task-old-gone',
             now() - interval '3 hours', now() - interval '3 hours'
        from generate_series(1, 4500) as g`;
    const limits = { batchSize: 1000, budgetMs: 0 };
    const first = await housekeeping(deps(cp), limits);
    expect(first.finished).toBe(false);
    expect(first.removed.stoppedTasks).toBe(1000);
    expect(first.removed.serviceEvents).toBe(1000);
    let runs = 1;
    for (let last = first; !last.finished; runs++) last = await housekeeping(deps(cp), limits);
    // 4,500 tasks take five batches, one per run; the last run finds the end.
    expect(runs).toBe(5);
    const after = await census();
    expect(after['task-old-gone'] ?? 0).toBe(0);
    expect(after['ev-old-gone'] ?? 0).toBe(0);
  });

  it('removes audit events past BOSUN_AUDIT_RETENTION_SECONDS (90 days), in bounded batches, and keeps the rest', async () => {
    const sql = cp.database.sql;
    await sql`
      insert into audit_events (at, request_id, access_key_id, action, resources, result, source_address)
      select now() - s.age, s.label || g, 'BKIATEST', 'ecs:CreateCluster', '[]'::jsonb, 'ok', '127.0.0.1'
        from (values ('audit-old-gone', interval '91 days', 1500),
                     ('audit-recent-kept', interval '89 days', 20)) as s(label, age, n),
             generate_series(1, s.n) as g`;
    const report = await housekeeping(deps(cp));
    expect(report.removed.auditEvents).toBe(1500);
    const [left] = await sql<{ old: number; kept: number }[]>`
      select count(*) filter (where request_id like 'audit-old-gone%')::int as old,
             count(*) filter (where request_id like 'audit-recent-kept%')::int as kept from audit_events`;
    expect(left).toEqual({ old: 0, kept: 20 });
  });
});
