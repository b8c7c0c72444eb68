// Which approval rule a plan needs: each classified change's risk, then the tier chosen for the plan.
import type { ResourceChange, ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { buildPlan, classifyChange } from '../../src/domain/classify.js';
import { chooseRule, riskOf, ruleFor } from '../../src/domain/risk.js';
import type { ChosenRule, RiskKind, TieredApprovalRule } from '../../src/domain/types.js';

function prop(name: string, requiresRecreation: 'Never' | 'Conditionally' | 'Always' = 'Never'): ResourceChangeDetail {
  return {
    Target: { Attribute: 'Properties', Name: name, RequiresRecreation: requiresRecreation },
    Evaluation: 'Static',
    ChangeSource: 'DirectModification',
  };
}

const rc = (fields: Partial<ResourceChange>): ResourceChange => ({ LogicalResourceId: 'Res', ...fields });
const table = 'AWS::DynamoDB::Table';
const fn = 'AWS::Lambda::Function';

describe('riskOf', () => {
  it.each<[string, ResourceChange, RiskKind | undefined]>([
    // Data
    ['a table removed', rc({ ResourceType: table, Action: 'Remove' }), 'deletes'],
    [
      'a table removed, PolicyAction Delete',
      rc({ ResourceType: table, Action: 'Remove', PolicyAction: 'Delete' }),
      'deletes',
    ],
    [
      'a database removed with a snapshot',
      rc({ ResourceType: 'AWS::RDS::DBInstance', Action: 'Remove', PolicyAction: 'Snapshot' }),
      'deletes',
    ],
    ['a table removed but retained', rc({ ResourceType: table, Action: 'Remove', PolicyAction: 'Retain' }), undefined],
    ['a resource of unknown type removed', rc({ Action: 'Remove' }), 'deletes'],
    [
      'a bucket replaced',
      rc({
        ResourceType: 'AWS::S3::Bucket',
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('BucketName', 'Always')],
      }),
      'replaces',
    ],
    [
      'a table replaced, old one retained',
      rc({
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndRetain',
        Details: [prop('TableName', 'Always')],
      }),
      'replaces',
    ],
    [
      'a table conditionally replaced',
      rc({
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'Conditional',
        Details: [prop('KeySchema', 'Conditionally')],
      }),
      'may-replace',
    ],
    ['a table modified, replacement not said', rc({ ResourceType: table, Action: 'Modify' }), 'may-replace'],
    ['a table with a Dynamic change', rc({ ResourceType: table, Action: 'Dynamic' }), 'may-replace'],
    [
      'a table modified in place',
      rc({ ResourceType: table, Action: 'Modify', Replacement: 'False', Details: [prop('BillingMode')] }),
      undefined,
    ],
    ['a table added', rc({ ResourceType: table, Action: 'Add' }), undefined],
    // Stateless resources
    [
      'a function replaced',
      rc({ ResourceType: fn, Action: 'Modify', Replacement: 'True', Details: [prop('FunctionName', 'Always')] }),
      undefined,
    ],
    [
      'a function conditionally replaced',
      rc({ ResourceType: fn, Action: 'Modify', Replacement: 'Conditional' }),
      undefined,
    ],
    ['a topic removed', rc({ ResourceType: 'AWS::SNS::Topic', Action: 'Remove' }), undefined],
    [
      'a function modified',
      rc({ ResourceType: fn, Action: 'Modify', Replacement: 'False', Details: [prop('Code')] }),
      undefined,
    ],
    // Permissions
    [
      'a role policy changed',
      rc({ ResourceType: 'AWS::IAM::Role', Action: 'Modify', Replacement: 'False', Details: [prop('Policies')] }),
      'permissions',
    ],
    [
      'a role changed without a policy change',
      rc({ ResourceType: 'AWS::IAM::Role', Action: 'Modify', Replacement: 'False', Details: [prop('Tags')] }),
      undefined,
    ],
    ['a managed policy added', rc({ ResourceType: 'AWS::IAM::ManagedPolicy', Action: 'Add' }), 'permissions'],
    ['a bucket policy removed', rc({ ResourceType: 'AWS::S3::BucketPolicy', Action: 'Remove' }), 'permissions'],
    [
      'a bucket policy removed but retained',
      rc({ ResourceType: 'AWS::S3::BucketPolicy', Action: 'Remove', PolicyAction: 'Retain' }),
      undefined,
    ],
    ['a Lambda permission added', rc({ ResourceType: 'AWS::Lambda::Permission', Action: 'Add' }), 'permissions'],
    [
      'a security group ingress changed',
      rc({
        ResourceType: 'AWS::EC2::SecurityGroup',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('SecurityGroupIngress')],
      }),
      'permissions',
    ],
    [
      'a managed policy replaced (impact replaces)',
      rc({
        ResourceType: 'AWS::IAM::ManagedPolicy',
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('ManagedPolicyName', 'Always')],
      }),
      'permissions',
    ],
    [
      'a role replaced, its policies changing too',
      rc({
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('RoleName', 'Always'), prop('Policies')],
      }),
      'permissions',
    ],
    [
      'a queue redrive policy (not a permission)',
      rc({ ResourceType: 'AWS::SQS::Queue', Action: 'Modify', Replacement: 'False', Details: [prop('RedrivePolicy')] }),
      undefined,
    ],
    // Data beats permissions: a replaced KMS key is reported as a replacement.
    [
      'a KMS key replaced with its key policy',
      rc({
        ResourceType: 'AWS::KMS::Key',
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('KeySpec', 'Always'), prop('KeyPolicy')],
      }),
      'replaces',
    ],
  ])('%s → %s', (_, change, expected) => {
    expect(riskOf(classifyChange(change))).toBe(expected);
  });
});

const base = { allowSelfApproval: false, expiresAfterMs: 3_600_000 };
const normal = { ...base, required: 1, reviewers: ['U0ALICE', 'U0BOB', 'S0LEADS'] };
const tiered: TieredApprovalRule = {
  ...normal,
  destructive: { ...base, required: 2, reviewers: ['U0ALICE', 'S0LEADS'] },
};

const harmless = buildPlan([
  rc({ LogicalResourceId: 'Fn', ResourceType: fn, Action: 'Modify', Replacement: 'False', Details: [prop('Code')] }),
  rc({ LogicalResourceId: 'Logs', ResourceType: 'AWS::Logs::LogGroup', Action: 'Add' }),
]);
const destructive = buildPlan([
  rc({ LogicalResourceId: 'Fn', ResourceType: fn, Action: 'Modify', Replacement: 'False', Details: [prop('Code')] }),
  rc({ LogicalResourceId: 'OrdersTable', ResourceType: table, Action: 'Remove' }),
  rc({
    LogicalResourceId: 'ApiRole',
    ResourceType: 'AWS::IAM::Role',
    Action: 'Modify',
    Replacement: 'False',
    Details: [prop('Policies')],
  }),
]);

describe('chooseRule', () => {
  it.each<[string, TieredApprovalRule, Parameters<typeof chooseRule>[1], ChosenRule]>([
    [
      'a destructive plan under a tiered rule',
      tiered,
      destructive,
      {
        tier: 'destructive',
        required: 2,
        reviewers: ['U0ALICE', 'S0LEADS'],
        because: [
          { logicalId: 'OrdersTable', kind: 'deletes' },
          { logicalId: 'ApiRole', kind: 'permissions' },
        ],
      },
    ],
    ['a harmless plan under a tiered rule', tiered, harmless, { tier: 'normal', ...pick(normal), because: [] }],
    [
      'a destructive plan without a destructive tier',
      normal,
      destructive,
      { tier: 'normal', ...pick(normal), because: [] },
    ],
    ['no plan (a recovery)', tiered, undefined, { tier: 'normal', ...pick(normal), because: [] }],
  ])('%s', (_, rules, plan, expected) => {
    expect(chooseRule(rules, plan)).toEqual(expected);
  });
});

function pick(r: { required: number; reviewers: string[] }) {
  return { required: r.required, reviewers: r.reviewers };
}

describe('ruleFor', () => {
  const chosen = chooseRule(tiered, destructive);
  it.each<[string, TieredApprovalRule, ChosenRule | undefined, { required: number; reviewers: string[] }]>([
    ['the normal tier', tiered, chooseRule(tiered, harmless), pick(normal)],
    ['nothing recorded (older records)', tiered, undefined, pick(normal)],
    [
      'the destructive tier, as configured now',
      { ...tiered, destructive: { ...base, required: 3, reviewers: ['U0CAROL'] } },
      chosen,
      { required: 3, reviewers: ['U0CAROL'] },
    ],
    [
      'the destructive tier after it left the config: as announced',
      normal,
      chosen,
      { required: 2, reviewers: ['U0ALICE', 'S0LEADS'] },
    ],
  ])('%s', (_, rules, c, expected) => {
    const rule = ruleFor(rules, c);
    expect(pick(rule)).toEqual(expected);
    expect(rule).not.toHaveProperty('destructive');
    expect(rule.expiresAfterMs).toBe(3_600_000);
  });
});
