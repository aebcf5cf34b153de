import { fileURLToPath } from 'node:url';

/** The repository's root: processes start here, as scripts/up starts them. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
