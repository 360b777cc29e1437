/**
 * The policy's `audience`: one value (`api://query-broker`) or a list. Entra puts in `aud` what the
 * client asked for: `api://…/.default` gives the identifier URI, `{appId}/.default` the application
 * (client) id GUID, and v2 tokens always carry the GUID. A deployment lists both forms.
 */
export type AudienceSetting = string | readonly string[];

/** Every accepted `aud`, in policy order, without duplicates. */
export function audiencesOf(audience: AudienceSetting): string[] {
  const list = typeof audience === 'string' ? [audience] : [...audience];
  return [...new Set(list.filter((a) => a !== ''))];
}

/** The audience clients are told to request (the first one): the identifier URI by convention. */
export function primaryAudience(audience: AudienceSetting): string {
  const first = audiencesOf(audience)[0];
  if (first === undefined) throw new Error('The policy has no audience.');
  return first;
}
