import type { TrustedKey } from './manifest-verify.ts';

/**
 * The release keys this build trusts, compiled in (a file next to the agent could be swapped by
 * anyone who can write there). One key, or two while rotating: publish with the new key only
 * after a release that pins both has been applied everywhere, then drop the old one.
 * Fill from `npm run release -- keygen` ("pin in the agent build" line). Empty: updates are off.
 */
export const TRUSTED_UPDATE_KEYS: readonly TrustedKey[] = [];
