/** Docker Hub's auth server address, which is what Docker expects for images without a registry host. */
export const DOCKER_HUB_AUTH_ADDRESS = 'https://index.docker.io/v1/';

/** The registry host of a reference, when its first path part names one (has `.` or `:`, or is localhost). */
export function registryHost(image: string): string | undefined {
  const slash = image.indexOf('/');
  if (slash < 0) return undefined;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

export function registryServerAddress(image: string): string {
  const host = registryHost(image);
  return host === undefined || host === 'docker.io' || host === 'index.docker.io'
    ? DOCKER_HUB_AUTH_ADDRESS
    : host;
}

/**
 * Adds `:latest` when a reference has neither tag nor digest: Docker's pull API pulls every tag of a
 * repository when given none.
 */
export function normalizeImageRef(image: string): string {
  if (image.includes('@')) return image;
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  return lastPart.includes(':') ? image : `${image}:latest`;
}
