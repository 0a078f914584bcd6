import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The user's cache directory for mlserve, shared by every project (so a second model with the same
 * requirements installs nothing): $MLSERVE_CACHE_DIR, else $XDG_CACHE_HOME/mlserve (~/.cache/mlserve)
 * on Linux, ~/Library/Caches/mlserve on macOS, %LOCALAPPDATA%\mlserve\Cache on Windows.
 */
export function userCacheDir(env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): string {
  if (env.MLSERVE_CACHE_DIR) return env.MLSERVE_CACHE_DIR;
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'mlserve', 'Cache');
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'mlserve');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'mlserve');
}
