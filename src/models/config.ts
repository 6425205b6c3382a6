// Model configs at the file boundary. A model's config (what its config.json holds, or the constructor
// arguments of the reference where the release ships a bare state dict) is a snake_case object keyed as
// diffusers / transformers / the reference name it, so a config.json is the TS config with no renaming;
// options objects of functions and loaders (`{ dtype, device }`) stay camelCase.

/** The fields of a config.json object that a model's defaults know; the rest (`_class_name`, ...) is ignored. */
export function knownFields<C extends object>(json: Record<string, unknown>, defaults: C): Partial<C> {
  return Object.fromEntries(Object.entries(json).filter(([k]) => Object.hasOwn(defaults, k))) as Partial<C>;
}

/** camelCase keys of configs written before the convention (`numFeatures`) read as snake_case (`num_features`). */
export function snakeCaseKeys(json: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}
