/**
 * Which kind of build this is. The repository always says `development`; the release build
 * rewrites the one line below to `production` in its staged copy of the sources
 * (`npm run release -- set-flavor --file <staged>/agent/src/update/build-flavor.ts production`),
 * so nothing at run time — no variable, flag or file — can turn a production build into a
 * development one. Only a development build honours `GURU_UPDATE_INSECURE_TLS=1`.
 */
export type BuildFlavor = 'development' | 'production';

// The release CLI matches this exact line; keep it on one line.
export const BUILD_FLAVOR: BuildFlavor = 'development';
