export * from './query-language.ts';
