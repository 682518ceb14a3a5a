/** Object Lock defaults shared by the CDK stack and the emulator provisioning. */

/** Default retention of every archived object: 7 years, overridable with the `retentionDays` context. */
export const DEFAULT_RETENTION_DAYS = 2555;
