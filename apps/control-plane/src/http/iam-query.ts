import { BosunError, type EcsErrorCode } from '@bosun/model';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bosunActions } from '../ecs/index.ts';
import { type DispatchDeps, runAction, verifyCaller } from './dispatch.ts';
import { classifyError } from './errors.ts';

/**
 * The IAM subset that `aws iam` and the SDKs' IAM clients can call: CreateAccessKey, ListAccessKeys,
 * UpdateAccessKey, DeleteAccessKey over IAM's Query protocol (form-encoded `Action=…&Version=2010-05-08`,
 * SigV4 with the service `iam`, XML answers and errors). Each runs bosun's own action of that name
 * (src/ecs/access-keys.ts) with the same policy check (`bosun:<Action>`) and audit record. As in IAM,
 * a call without UserName is about the caller's own user. IAM's other operations answer
 * `InvalidAction`.
 */
const IAM_ACTIONS = new Set(['CreateAccessKey', 'ListAccessKeys', 'UpdateAccessKey', 'DeleteAccessKey']);
const NS = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** The service of an `Authorization: AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request` header. */
export function credentialScopeService(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value
    ? /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(value)?.[1]
    : undefined;
}

const xmlEscape = (s: string) =>
  s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  );

/** Elements in order; arrays are IAM's `<member>` lists; null/undefined are left out. */
function toXml(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => `<member>${toXml(v)}</member>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
      .join('');
  }
  return xmlEscape(String(value));
}

const isoDate = (epochSeconds: unknown) =>
  typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : undefined;

/** bosun's answer → IAM's result element (IAM's statuses are Active/Inactive; dates ISO 8601). */
function iamKey(k: Record<string, unknown>, withSecret: boolean) {
  return {
    UserName: k.UserName,
    AccessKeyId: k.AccessKeyId,
    Status: k.Status === 'ACTIVE' ? 'Active' : 'Inactive',
    ...(withSecret ? { SecretAccessKey: k.SecretAccessKey } : {}),
    CreateDate: isoDate(k.CreateDate),
  };
}

/** IAM's error codes and statuses for bosun's. */
function iamError(code: EcsErrorCode): { code: string; status: number; type: 'Sender' | 'Receiver' } {
  switch (code) {
    case 'ResourceNotFoundException':
      return { code: 'NoSuchEntity', status: 404, type: 'Sender' };
    case 'LimitExceededException':
      return { code: 'LimitExceeded', status: 409, type: 'Sender' };
    case 'AccessDeniedException':
      return { code: 'AccessDenied', status: 403, type: 'Sender' };
    case 'UnrecognizedClientException':
    case 'MissingAuthenticationTokenException':
      return { code: 'InvalidClientTokenId', status: 403, type: 'Sender' };
    case 'InvalidSignatureException':
      return { code: 'SignatureDoesNotMatch', status: 403, type: 'Sender' };
    case 'IncompleteSignatureException':
      return { code: 'IncompleteSignature', status: 400, type: 'Sender' };
    case 'UnknownOperationException':
      return { code: 'InvalidAction', status: 400, type: 'Sender' };
    case 'ServiceUnavailableException':
      return { code: 'ServiceUnavailable', status: 503, type: 'Receiver' };
    case 'ServerException':
      return { code: 'ServiceFailure', status: 500, type: 'Receiver' };
    default:
      return { code: 'InvalidInput', status: 400, type: 'Sender' };
  }
}

export async function serveIamQuery(
  deps: DispatchDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  rawBody: string,
  now: Date,
): Promise<FastifyReply> {
  const requestId = String(req.id);
  try {
    const caller = await verifyCaller(deps, req, rawBody, now, 'iam');
    const form = new URLSearchParams(rawBody);
    const name = form.get('Action') ?? '';
    const action = bosunActions[name];
    if (!IAM_ACTIONS.has(name) || !action) {
      throw new BosunError(
        'UnknownOperationException',
        `bosun serves the IAM actions ${[...IAM_ACTIONS].join(', ')}; not '${name}'.`,
      );
    }
    const input: Record<string, unknown> = { UserName: form.get('UserName') ?? caller.userName };
    if (form.has('AccessKeyId')) input.AccessKeyId = form.get('AccessKeyId');
    if (form.has('Status')) input.Status = form.get('Status');
    const out = (await runAction(deps, req, now, caller, 'bosun', name, action, input)) as Record<
      string,
      unknown
    >;
    const result =
      name === 'CreateAccessKey'
        ? { AccessKey: iamKey(out.AccessKey as Record<string, unknown>, true) }
        : name === 'ListAccessKeys'
          ? {
              AccessKeyMetadata: (out.AccessKeyMetadata as Record<string, unknown>[]).map((k) =>
                iamKey(k, false),
              ),
              IsTruncated: false,
            }
          : undefined;
    const body =
      `<${name}Response xmlns="${NS}">${result ? `<${name}Result>${toXml(result)}</${name}Result>` : ''}` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${name}Response>`;
    return reply.header('content-type', 'text/xml').send(body);
  } catch (e) {
    const { code, message } = classifyError(e as Error, req);
    const iam = iamError(code);
    if (iam.status >= 500) req.log.error({ err: e }, 'request failed');
    else req.log.info({ code: iam.code, message }, 'request rejected');
    return reply
      .status(iam.status)
      .header('content-type', 'text/xml')
      .send(
        `<ErrorResponse xmlns="${NS}"><Error><Type>${iam.type}</Type><Code>${iam.code}</Code>` +
          `<Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
  }
}
