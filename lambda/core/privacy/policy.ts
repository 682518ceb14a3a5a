/**
 * Which fields of a record are personal (sealed under the data subject's key) and which of those stay
 * searchable as keyed pseudonyms: a deployment's privacy policy (prop and context `privacy`,
 * environment SEALTRAIL_PRIVACY). Only text fields can be sealed in place, and only fields a query
 * filters on can be searchable, so both lists are closed enumerations.
 */
import * as z from "zod";

/** Every record field a policy may name as personal: the text fields that can identify a person. */
export const PERSONAL_FIELDS = [
  "actor.sub",
  "actor.session_id",
  "actor.token_id",
  "reporter.sub",
  "reporter.session_id",
  "resource.id",
  "http.endpoint",
  "http.source_ip",
  "http.user_agent",
  "ingest.source_ip",
  "ingest.user_agent",
  "details",
] as const;
export type PersonalField = (typeof PERSONAL_FIELDS)[number];

/** The personal fields a query can filter on, with the filter that searches each. */
export const SEARCHABLE_FIELDS = {
  "actor.sub": "actor",
  "actor.session_id": "session_id",
  "resource.id": "resource_id",
} as const satisfies Partial<Record<PersonalField, string>>;
export type SearchableField = keyof typeof SEARCHABLE_FIELDS;

export const DEFAULT_PERSONAL_FIELDS: readonly PersonalField[] = [
  "actor.sub",
  "actor.session_id",
  "reporter.sub",
  "reporter.session_id",
  "http.source_ip",
  "http.user_agent",
  "details",
];
export const DEFAULT_SEARCHABLE_FIELDS: readonly SearchableField[] = ["actor.sub", "actor.session_id"];

export const PrivacyPolicySchema = z
  .strictObject({
    personal: z.array(z.enum(PERSONAL_FIELDS)).default([...DEFAULT_PERSONAL_FIELDS]),
    searchable: z
      .array(z.enum(Object.keys(SEARCHABLE_FIELDS) as [SearchableField, ...SearchableField[]]))
      .default([...DEFAULT_SEARCHABLE_FIELDS]),
  })
  .refine((policy) => policy.searchable.every((field) => policy.personal.includes(field)), {
    message: "every searchable field must also be personal: a pseudonym stands in for a sealed value",
  });
export type PrivacyPolicy = z.infer<typeof PrivacyPolicySchema>;

/** The default policy, as `privacy: true` means it. */
export const DEFAULT_PRIVACY_POLICY: PrivacyPolicy = PrivacyPolicySchema.parse({});
