export * from './batch.ts';
export * from './placement.ts';
export * from './query-language.ts';
export * from './service.ts';
export * from './service-events.ts';
