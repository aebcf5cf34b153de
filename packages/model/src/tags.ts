import { z } from 'zod';
import { InvalidParameterError } from './errors.ts';

/** ECS tag limits: keys 1–128 characters, values up to 256, at most 50 per resource. */
export const MAX_TAGS_PER_RESOURCE = 50;

export const Tag = z.object({
  key: z.string().min(1).max(128),
  value: z.string().max(256).optional(),
});
export type Tag = z.infer<typeof Tag>;

export interface TagPair {
  key: string;
  value: string;
}

/**
 * The rules the shape cannot say: the `aws:` prefix is reserved, a key appears once per request,
 * and one request carries at most 50 tags. Returns the tags with missing values as ''.
 */
export function parseTags(tags: readonly Tag[]): TagPair[] {
  if (tags.length > MAX_TAGS_PER_RESOURCE) {
    throw new InvalidParameterError(
      `At most ${MAX_TAGS_PER_RESOURCE} tags may be given; got ${tags.length}.`,
    );
  }
  const seen = new Set<string>();
  return tags.map(({ key, value }) => {
    if (key.toLowerCase().startsWith('aws:')) {
      throw new InvalidParameterError(`Tag key '${key}' uses the reserved prefix 'aws:'.`);
    }
    if (seen.has(key)) throw new InvalidParameterError(`Tag key '${key}' is given more than once.`);
    seen.add(key);
    return { key, value: value ?? '' };
  });
}
