/** What a control-plane process remembers of its last answer to an agent's long-poll. */
export interface LastAnswer {
  /** The version the answer carried. */
  version: number;
  /** The credential (its sha256) and client certificate (its sha256) the answer was given to. */
  secretHash: string;
  certificateFingerprint: string | null;
  /** The instance channel's mark (Notifier.mark) taken before the answer's read. */
  mark: string;
  /** When Postgres last checked that credential; an answer passes this on, it does not renew it. */
  checkedAt: number;
}

/** How long one check of the credential in Postgres may stand for the long-polls that follow it. */
export const CHECK_STANDS_MS = 10_000;

/**
 * Whether a long-poll may wait without reading Postgres first: it asks `after` the version this
 * process last answered, with the same credential, no message came on the instance's channel since
 * that answer's read (so no change the read missed has been published — one published later wakes
 * the poll), and Postgres checked the credential less than CHECK_STANDS_MS ago.
 */
export function answerStillStands(
  last: LastAnswer | undefined,
  poll: {
    after: number | undefined;
    secretHash: string;
    certificateFingerprint: string | null;
    mark: string;
  },
  now: number,
): last is LastAnswer {
  return (
    last !== undefined &&
    last.version === poll.after &&
    last.secretHash === poll.secretHash &&
    last.certificateFingerprint === poll.certificateFingerprint &&
    last.mark === poll.mark &&
    now - last.checkedAt < CHECK_STANDS_MS
  );
}
