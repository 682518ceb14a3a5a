/**
 * The package's entry point, `import { Sealtrail } from "sealtrail"`: the construct, its props and the
 * deployable stack. scripts/build-construct.ts bundles it into dist/index.js with the Lambda code
 * prebuilt beside it (docs/construct.md, "Use it in your own CDK app").
 */

export type { PersonalField, SearchableField } from "../lambda/core/privacy/policy";
export type { WatchedAction } from "../lambda/core/watched-actions";
export type { SubjectIssuer } from "../lambda/runtime/config";
export type { SealtrailPrivacyOptions } from "./privacy";
export type { SealtrailReplicaDestination } from "./replication";
export { addSealtrailOutputs, Sealtrail, type SealtrailProps, type SealtrailScopes } from "./sealtrail";
export { SealtrailStack, type SealtrailStackProps } from "./sealtrail-stack";
export type { SealtrailSearchOptions } from "./search";
