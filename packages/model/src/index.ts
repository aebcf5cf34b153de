export * from './agent-protocol.ts';
export * from './arn.ts';
export * from './errors.ts';
export * from './status.ts';
export * from './tags.ts';
export * from './task-definition.ts';
export * from './task-size.ts';
