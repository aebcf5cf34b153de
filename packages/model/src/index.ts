export * from './errors.ts';
export * from './arn.ts';
export * from './status.ts';
export * from './agent-protocol.ts';
