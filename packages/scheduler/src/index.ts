export * from './placement.ts';
export * from './query-language.ts';
