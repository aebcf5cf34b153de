export * from './access-keys.ts';
export * from './clusters.ts';
export * from './container-instances.ts';
export * from './services.ts';
export * from './tags.ts';
export * from './task-definition-families.ts';
export * from './task-definitions.ts';
export * from './tasks.ts';
