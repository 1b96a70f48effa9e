export type { components, operations, paths } from './api-types.js';
export * from './client.js';
export { ApiError, type Problem } from './errors.js';
export * from './worker-loop.js';
