import { updatePlatformSchema, type UpdatePlatform } from '@guruconnect/shared/protocol';

/** This machine's update platform (`linux-x64`, …), or null when no packages are built for it. */
export function currentPlatform(platform: string = process.platform, arch: string = process.arch): UpdatePlatform | null {
  const r = updatePlatformSchema.safeParse(`${platform}-${arch}`);
  return r.success ? r.data : null;
}
