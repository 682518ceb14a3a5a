/**
 * The sealtrail CDK app: `npx cdk synth|deploy -c issuer=https://… -c audience=a[,b]`.
 *
 * Context keys: lib/context.ts defines them (the README's table is rendered from it); any other key that is
 * not CDK's own fails the synthesis.
 *
 * Without issuer/audience the app still synthesizes, with placeholder values that fail closed and a
 * warning printed by `cdk synth`/`cdk deploy`: platform engineers expect `cdk synth`, `cdk diff` and CI
 * to work offline with no arguments, and a deployed placeholder can accept no token (see lib/app.ts).
 */
import { App } from "aws-cdk-lib";
import { configureApp } from "../lib/app";

const app = new App();
configureApp(app);
app.synth();
