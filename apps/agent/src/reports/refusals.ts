import type { RefusedReport } from '@bosun/model';

/**
 * What the agent does when the control plane will not take a report. Pure.
 *
 * A report goes out bounded (bound.ts). Refused as it was, it is sent once more cut to its minimum
 * (`minimal`); refused again, it is dropped from the pending reports and logged: resending what was
 * refused would be refused again, for ever, while it held its place in every batch.
 */
export type ReportStage = 'bounded' | 'minimal';

/** One report of a chunk as sent: its task and the form it went in. */
export interface SentReport {
  taskId: string;
  stage: ReportStage;
}

export type Verdict =
  | { kind: 'accepted' }
  | { kind: 'resend'; stage: 'minimal'; reason: string }
  | { kind: 'drop'; reason: string };

/** A refused report's next step: the minimal form once, then nothing. */
export function afterRefusal(stage: ReportStage, reason: string): Verdict {
  return stage === 'bounded' ? { kind: 'resend', stage: 'minimal', reason } : { kind: 'drop', reason };
}

/**
 * Each sent report's verdict from the control plane's answer, by position in the chunk. A refusal whose
 * index is not the chunk's (an answer from some other version) is matched by its taskId, else ignored.
 */
export function settleChunk(sent: readonly SentReport[], refused: readonly RefusedReport[]): Verdict[] {
  const verdicts: Verdict[] = sent.map(() => ({ kind: 'accepted' }));
  for (const r of refused) {
    let index = Number.isInteger(r.index) && r.index >= 0 && r.index < sent.length ? r.index : -1;
    if (index === -1 && r.taskId !== undefined) index = sent.findIndex((s) => s.taskId === r.taskId);
    const report = sent[index];
    if (report === undefined) continue;
    verdicts[index] = afterRefusal(report.stage, String(r.reason ?? 'refused'));
  }
  return verdicts;
}

/**
 * The `refused` list of a report answer, as far as it is readable. An older control plane sends none:
 * then every report was taken (or the whole request failed).
 */
export function refusalsIn(answer: unknown): RefusedReport[] {
  const list = (answer as { refused?: unknown } | null)?.refused;
  if (!Array.isArray(list)) return [];
  return list.flatMap((r: unknown) => {
    if (r === null || typeof r !== 'object') return [];
    const { index, taskId, reason } = r as Record<string, unknown>;
    if (typeof index !== 'number') return [];
    return [
      {
        index,
        ...(typeof taskId === 'string' ? { taskId } : {}),
        reason: typeof reason === 'string' ? reason : 'refused',
      },
    ];
  });
}

/**
 * What a failed report request means for its chunk:
 * - `refused`: the control plane answered that the request itself is bad (400: invalid parameter, a
 *   body it cannot read or too large). Something in the chunk is the cause: a chunk of several is split
 *   and each half sent on its own, so the one bad report is found and the others go through; a chunk of
 *   one is that report's refusal.
 * - `retry`: the control plane answered but failed (5xx, throttled, or it does not know this agent
 *   just now): the same chunk later, after a back-off. Other chunks still go.
 * - `unreachable`: no answer at all. The other chunks would fare the same: stop, back off, retry all.
 */
export type ChunkFailure = 'refused' | 'retry' | 'unreachable';

const CONTENT_CODES = new Set(['InvalidParameterException', 'ClientException', 'SerializationException']);

export function classifyChunkFailure(answer: { status: number; code: string } | undefined): ChunkFailure {
  if (answer === undefined) return 'unreachable';
  if ((answer.status === 400 && CONTENT_CODES.has(answer.code)) || answer.status === 413) return 'refused';
  return 'retry';
}
