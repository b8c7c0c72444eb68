import type { ResourceChange, ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import {
  buildPlan,
  buildStackedPlan,
  classifyChange,
  isDataBearing,
  planBuilder,
  worstImpact,
} from '../../src/domain/classify.js';
import type { Impact } from '../../src/domain/types.js';

/** A Details entry about one property. */
function prop(
  name: string,
  requiresRecreation: 'Never' | 'Conditionally' | 'Always' = 'Never',
  extra: { before?: string; after?: string; source?: string } = {},
): ResourceChangeDetail {
  return {
    Target: {
      Attribute: 'Properties',
      Name: name,
      RequiresRecreation: requiresRecreation,
      ...(extra.before !== undefined ? { BeforeValue: extra.before } : {}),
      ...(extra.after !== undefined ? { AfterValue: extra.after } : {}),
    },
    Evaluation: 'Static',
    ChangeSource: (extra.source ?? 'DirectModification') as ResourceChangeDetail['ChangeSource'],
  };
}

function rc(fields: Partial<ResourceChange>): ResourceChange {
  return { LogicalResourceId: 'Res', ...fields };
}

const table = 'AWS::DynamoDB::Table';
const fn = 'AWS::Lambda::Function';

describe('classifyChange', () => {
  it.each<[string, ResourceChange, Impact, string]>([
    // destroys
    [
      'removing a table without a policy action',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Remove' }),
      'destroys',
      'DELETES table UsersTable — data will be lost',
    ],
    [
      'removing a table with PolicyAction Delete',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Remove', PolicyAction: 'Delete' }),
      'destroys',
      'DELETES table UsersTable — data will be lost',
    ],
    [
      'replacing a bucket',
      rc({
        LogicalResourceId: 'Assets',
        ResourceType: 'AWS::S3::Bucket',
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('BucketName', 'Always')],
      }),
      'destroys',
      'REPLACES bucket Assets — data will be lost (replacement forced by BucketName)',
    ],
    [
      'replacing a database with ReplaceAndDelete',
      rc({
        LogicalResourceId: 'Db',
        ResourceType: 'AWS::RDS::DBInstance',
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndDelete',
      }),
      'destroys',
      'REPLACES database Db — data will be lost',
    ],
    [
      'removing a resource of unknown type (could hold data)',
      rc({ LogicalResourceId: 'Mystery', Action: 'Remove' }),
      'destroys',
      'DELETES resource Mystery — CloudFormation did not say its type; data may be lost',
    ],
    // data-bearing with Retain / Snapshot
    [
      'removing a retained table',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Remove', PolicyAction: 'Retain' }),
      'removes',
      'REMOVES table UsersTable — removed from the stack, retained',
    ],
    [
      'removing a database with a snapshot',
      rc({ LogicalResourceId: 'Db', ResourceType: 'AWS::RDS::DBCluster', Action: 'Remove', PolicyAction: 'Snapshot' }),
      'removes',
      'REMOVES database cluster Db — deleted, snapshot taken',
    ],
    [
      'replacing a table with ReplaceAndRetain',
      rc({
        LogicalResourceId: 'UsersTable',
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndRetain',
        Details: [prop('TableName', 'Always')],
      }),
      'replaces',
      'REPLACES table UsersTable — replaced, old one retained (replacement forced by TableName)',
    ],
    [
      'replacing a database with ReplaceAndSnapshot',
      rc({
        LogicalResourceId: 'Db',
        ResourceType: 'AWS::RDS::DBInstance',
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndSnapshot',
      }),
      'replaces',
      'REPLACES database Db — replaced, snapshot taken',
    ],
    // any type with Retain / Snapshot: what CloudFormation keeps is said, whether or not it holds data
    [
      'removing a retained topic',
      rc({ LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic', Action: 'Remove', PolicyAction: 'Retain' }),
      'removes',
      'REMOVES topic Alerts — removed from the stack, retained',
    ],
    [
      'removing a topic with PolicyAction Delete',
      rc({ LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic', Action: 'Remove', PolicyAction: 'Delete' }),
      'removes',
      'REMOVES topic Alerts',
    ],
    [
      'removing a function with a snapshot',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Remove', PolicyAction: 'Snapshot' }),
      'removes',
      'REMOVES function Handler — deleted, snapshot taken',
    ],
    [
      'removing a retained Lambda version',
      rc({ LogicalResourceId: 'V1', ResourceType: 'AWS::Lambda::Version', Action: 'Remove', PolicyAction: 'Retain' }),
      'removes',
      'REMOVES Lambda version V1 — removed from the stack, retained',
    ],
    [
      'removing a retained IAM role (its permissions stay)',
      rc({ LogicalResourceId: 'AppRole', ResourceType: 'AWS::IAM::Role', Action: 'Remove', PolicyAction: 'Retain' }),
      'removes',
      'REMOVES IAM role AppRole — removed from the stack, retained',
    ],
    [
      'removing a retained resource of unknown type',
      rc({ LogicalResourceId: 'Mystery', Action: 'Remove', PolicyAction: 'Retain' }),
      'removes',
      'REMOVES resource Mystery — removed from the stack, retained',
    ],
    [
      'replacing a function with ReplaceAndRetain',
      rc({
        LogicalResourceId: 'Handler',
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndRetain',
        Details: [prop('FunctionName', 'Always')],
      }),
      'replaces',
      'REPLACES function Handler — replaced, old one retained (replacement forced by FunctionName)',
    ],
    [
      'replacing a topic with ReplaceAndSnapshot',
      rc({
        LogicalResourceId: 'Alerts',
        ResourceType: 'AWS::SNS::Topic',
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndSnapshot',
      }),
      'replaces',
      'REPLACES topic Alerts — replaced, snapshot taken',
    ],
    [
      'a conditional replacement of a function with ReplaceAndRetain',
      rc({
        LogicalResourceId: 'Handler',
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'Conditional',
        PolicyAction: 'ReplaceAndRetain',
      }),
      'may-replace',
      'MAY REPLACE function Handler — replacement depends on values known only at deploy time; the old one would be retained',
    ],
    // replaces
    [
      'replacing a function',
      rc({
        LogicalResourceId: 'Handler',
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('FunctionName', 'Always')],
      }),
      'replaces',
      'REPLACES function Handler — replacement forced by FunctionName',
    ],
    // may-replace
    [
      'a conditional replacement of a table',
      rc({
        LogicalResourceId: 'UsersTable',
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'Conditional',
        Details: [prop('KeySchema', 'Conditionally')],
      }),
      'may-replace',
      'MAY REPLACE table UsersTable — replacement forced by KeySchema; data may be lost',
    ],
    [
      'a conditional replacement of a function',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Modify', Replacement: 'Conditional' }),
      'may-replace',
      'MAY REPLACE function Handler — replacement depends on values known only at deploy time',
    ],
    [
      'a Dynamic action',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Dynamic' }),
      'may-replace',
      'MAY REPLACE function Handler — CloudFormation cannot tell yet what will happen',
    ],
    [
      'a Modify without Replacement',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Modify' }),
      'may-replace',
      'MAY REPLACE function Handler — CloudFormation did not say whether this replaces it',
    ],
    [
      'a Modify without Replacement on a table',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Modify' }),
      'may-replace',
      'MAY REPLACE table UsersTable — CloudFormation did not say whether this replaces it; data may be lost',
    ],
    [
      'a change without Action',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn }),
      'may-replace',
      'MAY REPLACE function Handler — CloudFormation did not say what it will do',
    ],
    // security
    [
      'an IAM policy',
      rc({ LogicalResourceId: 'Pol', ResourceType: 'AWS::IAM::Policy', Action: 'Modify', Replacement: 'False' }),
      'security',
      'MODIFIES IAM policy Pol — IAM permissions change',
    ],
    [
      'a new IAM managed policy',
      rc({ LogicalResourceId: 'Pol', ResourceType: 'AWS::IAM::ManagedPolicy', Action: 'Add' }),
      'security',
      'ADDS IAM managed policy Pol — IAM permissions change',
    ],
    [
      'an IAM user',
      rc({ LogicalResourceId: 'Bot', ResourceType: 'AWS::IAM::User', Action: 'Add' }),
      'security',
      'ADDS IAM user Bot — IAM permissions change',
    ],
    [
      'an IAM access key',
      rc({ LogicalResourceId: 'Key', ResourceType: 'AWS::IAM::AccessKey', Action: 'Remove' }),
      'security',
      'REMOVES IAM access key Key — IAM permissions change',
    ],
    [
      'a role policy change',
      rc({
        LogicalResourceId: 'AppRole',
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('Policies'), prop('Description')],
      }),
      'security',
      'MODIFIES IAM role AppRole — permissions change (Policies)',
    ],
    [
      'a role trust policy change',
      rc({
        LogicalResourceId: 'AppRole',
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('AssumeRolePolicyDocument'), prop('PermissionsBoundary'), prop('ManagedPolicyArns')],
      }),
      'security',
      'MODIFIES IAM role AppRole — permissions change (AssumeRolePolicyDocument, ManagedPolicyArns, PermissionsBoundary)',
    ],
    [
      'a role Modify without Details (cannot prove no policy change)',
      rc({ LogicalResourceId: 'AppRole', ResourceType: 'AWS::IAM::Role', Action: 'Modify', Replacement: 'False' }),
      'security',
      'MODIFIES IAM role AppRole — CloudFormation did not list the changed properties, permissions may change',
    ],
    [
      'a new role',
      rc({ LogicalResourceId: 'AppRole', ResourceType: 'AWS::IAM::Role', Action: 'Add' }),
      'security',
      'ADDS IAM role AppRole — CloudFormation did not show its properties, it may grant access',
    ],
    [
      'a bucket policy',
      rc({ LogicalResourceId: 'AssetsPolicy', ResourceType: 'AWS::S3::BucketPolicy', Action: 'Add' }),
      'security',
      'ADDS bucket policy AssetsPolicy — resource policy change',
    ],
    [
      'a queue policy',
      rc({ LogicalResourceId: 'QP', ResourceType: 'AWS::SQS::QueuePolicy', Action: 'Modify', Replacement: 'False' }),
      'security',
      'MODIFIES queue policy QP — resource policy change',
    ],
    [
      'a topic policy',
      rc({ LogicalResourceId: 'TP', ResourceType: 'AWS::SNS::TopicPolicy', Action: 'Remove' }),
      'security',
      'REMOVES topic policy TP — resource policy change',
    ],
    [
      'any other *Policy type',
      rc({ LogicalResourceId: 'LRP', ResourceType: 'AWS::Logs::ResourcePolicy', Action: 'Add' }),
      'security',
      'ADDS resource policy LRP — resource policy change',
    ],
    [
      'a KMS key policy change',
      rc({
        LogicalResourceId: 'Key',
        ResourceType: 'AWS::KMS::Key',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('KeyPolicy')],
      }),
      'security',
      'MODIFIES KMS key Key — permissions change (KeyPolicy)',
    ],
    [
      'a Lambda permission',
      rc({ LogicalResourceId: 'Invoke', ResourceType: 'AWS::Lambda::Permission', Action: 'Add' }),
      'security',
      'ADDS Lambda permission Invoke — changes who may invoke it',
    ],
    [
      'a security group ingress rule',
      rc({ LogicalResourceId: 'In', ResourceType: 'AWS::EC2::SecurityGroupIngress', Action: 'Add' }),
      'security',
      'ADDS security group ingress rule In — network access rule change',
    ],
    [
      'a security group egress rule',
      rc({ LogicalResourceId: 'Out', ResourceType: 'AWS::EC2::SecurityGroupEgress', Action: 'Remove' }),
      'security',
      'REMOVES security group egress rule Out — network access rule change',
    ],
    [
      'a security group whose ingress changes',
      rc({
        LogicalResourceId: 'WebSg',
        ResourceType: 'AWS::EC2::SecurityGroup',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('SecurityGroupIngress')],
      }),
      'security',
      'MODIFIES security group WebSg — permissions change (SecurityGroupIngress)',
    ],
    [
      'a property named *Policy on any type',
      rc({
        LogicalResourceId: 'UsersTable',
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('ResourcePolicy')],
      }),
      'security',
      'MODIFIES table UsersTable — permissions change (ResourcePolicy)',
    ],
    [
      'an SSO permission set',
      rc({
        LogicalResourceId: 'Admins',
        ResourceType: 'AWS::SSO::PermissionSet',
        Action: 'Modify',
        Replacement: 'False',
      }),
      'security',
      'MODIFIES SSO permission set Admins — SSO access change',
    ],
    [
      'an SSO assignment',
      rc({ LogicalResourceId: 'Assign', ResourceType: 'AWS::SSO::Assignment', Action: 'Add' }),
      'security',
      'ADDS SSO assignment Assign — SSO access change',
    ],
    // Policy-named properties that are not about permissions
    [
      'an SNS subscription FilterPolicy',
      rc({
        LogicalResourceId: 'Sub',
        ResourceType: 'AWS::SNS::Subscription',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('FilterPolicy'), prop('DeliveryPolicy')],
      }),
      'modify',
      'modifies subscription Sub',
    ],
    [
      'an SQS RedrivePolicy',
      rc({
        LogicalResourceId: 'Jobs',
        ResourceType: 'AWS::SQS::Queue',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('RedrivePolicy')],
      }),
      'modify',
      'modifies queue Jobs',
    ],
    [
      'a scaling policy (not a permission)',
      rc({ LogicalResourceId: 'Scale', ResourceType: 'AWS::AutoScaling::ScalingPolicy', Action: 'Add' }),
      'add',
      'adds scaling policy Scale',
    ],
    // removes / modify / add
    [
      'removing a function',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Remove' }),
      'removes',
      'REMOVES function Handler',
    ],
    [
      'removing an SSM parameter (its value lives in the template)',
      rc({ LogicalResourceId: 'Param', ResourceType: 'AWS::SSM::Parameter', Action: 'Remove' }),
      'removes',
      'REMOVES parameter Param',
    ],
    [
      'modifying a function in place',
      rc({
        LogicalResourceId: 'Handler',
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('Code')],
      }),
      'modify',
      'modifies function Handler',
    ],
    [
      'modifying a table in place',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Modify', Replacement: 'False' }),
      'modify',
      'modifies table UsersTable',
    ],
    [
      'adding a function',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Add' }),
      'add',
      'adds function Handler',
    ],
    [
      'adding a table',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Add' }),
      'add',
      'adds table UsersTable',
    ],
    [
      'importing a table',
      rc({ LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Import' }),
      'add',
      'imports table UsersTable — imported into the stack',
    ],
    [
      'an unrecognised action',
      rc({ LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Teleport' as ResourceChange['Action'] }),
      'may-replace',
      'MAY REPLACE function Handler — unrecognised action Teleport',
    ],
    // minor
    [
      'a log group retention change',
      rc({
        LogicalResourceId: 'Logs',
        ResourceType: 'AWS::Logs::LogGroup',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('RetentionInDays')],
      }),
      'minor',
      'modifies log group Logs',
    ],
    [
      'a new log group',
      rc({ LogicalResourceId: 'Logs', ResourceType: 'AWS::Logs::LogGroup', Action: 'Add' }),
      'minor',
      'adds log group Logs',
    ],
    [
      'a new Lambda version',
      rc({ LogicalResourceId: 'FnVersion1a2b', ResourceType: 'AWS::Lambda::Version', Action: 'Add' }),
      'minor',
      'adds Lambda version FnVersion1a2b',
    ],
    [
      'a new API Gateway deployment',
      rc({ LogicalResourceId: 'Deploy9f', ResourceType: 'AWS::ApiGateway::Deployment', Action: 'Add' }),
      'minor',
      'adds API deployment Deploy9f',
    ],
    [
      'an API Gateway v2 deployment',
      rc({
        LogicalResourceId: 'Deploy',
        ResourceType: 'AWS::ApiGatewayV2::Deployment',
        Action: 'Modify',
        Replacement: 'False',
      }),
      'minor',
      'modifies API deployment Deploy',
    ],
    [
      'CDK metadata',
      rc({
        LogicalResourceId: 'CDKMetadata',
        ResourceType: 'AWS::CDK::Metadata',
        Action: 'Modify',
        Replacement: 'False',
      }),
      'minor',
      'modifies CDK metadata CDKMetadata',
    ],
    [
      'a role change that touches no policy property',
      rc({
        LogicalResourceId: 'AppRole',
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('Description'), { Target: { Attribute: 'Tags', RequiresRecreation: 'Never' } }],
      }),
      'minor',
      'modifies IAM role AppRole — no permission change',
    ],
    // minor only when nothing worse applies
    [
      'removing a log group is not minor',
      rc({ LogicalResourceId: 'Logs', ResourceType: 'AWS::Logs::LogGroup', Action: 'Remove' }),
      'destroys',
      'DELETES log group Logs — data will be lost',
    ],
    [
      'a log group Modify without Replacement is not minor',
      rc({ LogicalResourceId: 'Logs', ResourceType: 'AWS::Logs::LogGroup', Action: 'Modify' }),
      'may-replace',
      'MAY REPLACE log group Logs — CloudFormation did not say whether this replaces it; data may be lost',
    ],
    [
      'a log group data protection policy is security, not minor',
      rc({
        LogicalResourceId: 'Logs',
        ResourceType: 'AWS::Logs::LogGroup',
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('DataProtectionPolicy')],
      }),
      'security',
      'MODIFIES log group Logs — permissions change (DataProtectionPolicy)',
    ],
    [
      'removing a Lambda version is a removal',
      rc({ LogicalResourceId: 'V1', ResourceType: 'AWS::Lambda::Version', Action: 'Remove' }),
      'removes',
      'REMOVES Lambda version V1',
    ],
    [
      'a role replacement is a replacement',
      rc({
        LogicalResourceId: 'AppRole',
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'True',
        Details: [prop('RoleName', 'Always'), prop('Policies')],
      }),
      'replaces',
      'REPLACES IAM role AppRole — replacement forced by RoleName; also changes permissions (Policies)',
    ],
    [
      'a resource with no type is never minor',
      rc({ LogicalResourceId: 'Mystery', Action: 'Modify', Replacement: 'False' }),
      'modify',
      'modifies resource Mystery',
    ],
  ])('%s → %s', (_name, change, impact, reason) => {
    const c = classifyChange(change);
    expect(c.impact).toBe(impact);
    expect(c.reason).toBe(reason);
  });

  it('keeps the identifying fields and marks unknown ones', () => {
    const c = classifyChange({});
    expect(c).toMatchObject({
      logicalId: '(no logical ID)',
      resourceType: 'unknown',
      action: 'unknown',
      impact: 'may-replace',
      dataBearing: true,
      forcedBy: [],
      properties: [],
    });
    expect(c.replacement).toBeUndefined();
  });

  it('copies physical ID, replacement and policy action', () => {
    const c = classifyChange(
      rc({
        PhysicalResourceId: 'users-prod',
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'True',
        PolicyAction: 'ReplaceAndRetain',
      }),
    );
    expect(c).toMatchObject({ physicalId: 'users-prod', replacement: 'True', policyAction: 'ReplaceAndRetain' });
  });

  it('names every property that forces the replacement, once', () => {
    const c = classifyChange(
      rc({
        ResourceType: table,
        Action: 'Modify',
        Replacement: 'True',
        Details: [
          prop('TableName', 'Always'),
          prop('TableName', 'Always', { source: 'ParameterReference' }),
          prop('KeySchema', 'Conditionally'),
          prop('BillingMode', 'Never'),
        ],
      }),
    );
    expect(c.forcedBy).toEqual(['TableName', 'KeySchema']);
  });

  it('reads property changes from Details, merging repeated ones', () => {
    const c = classifyChange(
      rc({
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'False',
        Details: [
          prop('MemorySize', 'Never', { before: '128', after: '256' }),
          prop('Environment', 'Never', { source: 'DirectModification' }),
          prop('Environment', 'Conditionally', { source: 'ResourceReference' }),
          { Target: { Attribute: 'Tags', RequiresRecreation: 'Never' } },
        ],
      }),
    );
    expect(c.properties).toEqual([
      {
        path: 'Properties.MemorySize',
        before: '128',
        after: '256',
        requiresRecreation: 'Never',
        changeSource: 'DirectModification',
      },
      {
        path: 'Properties.Environment',
        requiresRecreation: 'Conditionally',
        changeSource: 'DirectModification, ResourceReference',
      },
      { path: 'Tags', requiresRecreation: 'Never' },
    ]);
  });

  it('fills missing values from BeforeContext/AfterContext', () => {
    const c = classifyChange(
      rc({
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'False',
        Details: [prop('MemorySize'), prop('Environment')],
        BeforeContext: JSON.stringify({ Properties: { MemorySize: 128, Environment: { Variables: { A: '1' } } } }),
        AfterContext: JSON.stringify({ Properties: { MemorySize: 256, Environment: { Variables: { A: '2' } } } }),
      }),
    );
    expect(c.properties.map((p) => [p.path, p.before, p.after])).toEqual([
      ['Properties.MemorySize', '128', '256'],
      ['Properties.Environment', '{"Variables":{"A":"1"}}', '{"Variables":{"A":"2"}}'],
    ]);
  });

  it('diffs the contexts when there are no Details', () => {
    const c = classifyChange(
      rc({
        ResourceType: fn,
        Action: 'Modify',
        Replacement: 'False',
        BeforeContext: JSON.stringify({ Properties: { Timeout: 3, Handler: 'a.handler', Runtime: 'nodejs20.x' } }),
        AfterContext: JSON.stringify({ Properties: { Timeout: 10, Handler: 'a.handler', Layers: ['x'] } }),
      }),
    );
    expect(c.properties).toEqual([
      { path: 'Properties.Layers', after: '["x"]' },
      { path: 'Properties.Runtime', before: 'nodejs20.x' },
      { path: 'Properties.Timeout', before: '3', after: '10' },
    ]);
  });

  it('finds security properties in the contexts when there are no Details', () => {
    const c = classifyChange(
      rc({
        LogicalResourceId: 'WebSg',
        ResourceType: 'AWS::EC2::SecurityGroup',
        Action: 'Add',
        AfterContext: JSON.stringify({
          Properties: { GroupDescription: 'web', SecurityGroupIngress: [{ CidrIp: '0.0.0.0/0' }] },
        }),
      }),
    );
    expect(c.impact).toBe('security');
    expect(c.reason).toBe('ADDS security group WebSg — permissions change (SecurityGroupIngress)');
  });

  it('adds a security group without rules as a plain addition when its properties are known', () => {
    const c = classifyChange(
      rc({
        ResourceType: 'AWS::EC2::SecurityGroup',
        Action: 'Add',
        AfterContext: JSON.stringify({ Properties: { GroupDescription: 'web' } }),
      }),
    );
    expect(c.impact).toBe('add');
  });

  it('ignores an unreadable context', () => {
    const c = classifyChange(
      rc({ ResourceType: fn, Action: 'Modify', Replacement: 'False', BeforeContext: '{not json', AfterContext: '' }),
    );
    expect(c.properties).toEqual([]);
    expect(c.impact).toBe('modify');
  });

  it('treats a role Properties detail that names no property as a possible policy change', () => {
    const c = classifyChange(
      rc({
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'False',
        Details: [{ Target: { Attribute: 'Properties', RequiresRecreation: 'Never' } }],
      }),
    );
    expect(c.impact).toBe('security');
  });

  it('reads the property name from Target.Path when Name is missing', () => {
    const c = classifyChange(
      rc({
        ResourceType: 'AWS::IAM::Role',
        Action: 'Modify',
        Replacement: 'False',
        Details: [{ Target: { Attribute: 'Properties', Path: '/Properties/Policies/0/PolicyDocument' } }],
      }),
    );
    expect(c.impact).toBe('security');
    expect(c.properties[0]?.path).toBe('Properties.Policies');
  });
});

describe('isDataBearing', () => {
  it.each([
    'AWS::DynamoDB::Table',
    'AWS::DynamoDB::GlobalTable',
    'AWS::RDS::DBInstance',
    'AWS::RDS::DBCluster',
    'AWS::S3::Bucket',
    'AWS::EFS::FileSystem',
    'AWS::ElastiCache::CacheCluster',
    'AWS::ElastiCache::ReplicationGroup',
    'AWS::ElastiCache::ServerlessCache',
    'AWS::Elasticsearch::Domain',
    'AWS::OpenSearchService::Domain',
    'AWS::Kinesis::Stream',
    'AWS::SQS::Queue',
    'AWS::Cognito::UserPool',
    'AWS::SecretsManager::Secret',
    'AWS::KMS::Key',
    'AWS::Logs::LogGroup',
    'AWS::DocDB::DBCluster',
    'AWS::DocDB::DBInstance',
    'AWS::Neptune::DBCluster',
    'AWS::Neptune::DBInstance',
    'AWS::Redshift::Cluster',
    'AWS::FSx::FileSystem',
    'AWS::Backup::BackupVault',
    'AWS::CloudFormation::Stack',
    'AWS::EC2::Volume',
    'AWS::EMR::Cluster',
    'AWS::QLDB::Ledger',
    'AWS::SDB::Domain',
    'AWS::ECR::Repository',
    'AWS::Timestream::Table',
    'AWS::Timestream::Database',
    'AWS::MSK::Cluster',
    'AWS::MemoryDB::Cluster',
    'AWS::Glue::Database',
    'AWS::Glue::Table',
  ])('%s holds data', (type) => {
    expect(isDataBearing(type)).toBe(true);
  });

  it.each(['AWS::Lambda::Function', 'AWS::SSM::Parameter', 'AWS::IAM::Role', 'AWS::SNS::Topic', 'unknown', ''])(
    '%s does not',
    (type) => {
      expect(isDataBearing(type)).toBe(false);
    },
  );
});

describe('worstImpact', () => {
  it.each<[Impact[], Impact | undefined]>([
    [[], undefined],
    [['minor'], 'minor'],
    [['add', 'modify', 'minor'], 'modify'],
    [['security', 'may-replace', 'removes'], 'may-replace'],
    [['add', 'destroys', 'replaces'], 'destroys'],
  ])('%j → %s', (impacts, worst) => {
    const changes = impacts.map((impact) => ({ ...classifyChange({}), impact }));
    expect(worstImpact(changes)).toBe(worst);
  });
});

describe('buildPlan', () => {
  const plan = buildPlan([
    { LogicalResourceId: 'Zeta', ResourceType: fn, Action: 'Add' },
    { LogicalResourceId: 'Alpha', ResourceType: fn, Action: 'Add' },
    { LogicalResourceId: 'V1', ResourceType: 'AWS::Lambda::Version', Action: 'Add' },
    { LogicalResourceId: 'Handler', ResourceType: fn, Action: 'Modify', Replacement: 'False' },
    { LogicalResourceId: 'UsersTable', ResourceType: table, Action: 'Remove' },
    { LogicalResourceId: 'Old', ResourceType: fn, Action: 'Remove' },
    { LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue', Action: 'Modify', Replacement: 'True' },
    { LogicalResourceId: 'Api', ResourceType: fn, Action: 'Modify', Replacement: 'Conditional' },
    { LogicalResourceId: 'Guess', ResourceType: fn, Action: 'Dynamic' },
    { LogicalResourceId: 'Role', ResourceType: 'AWS::IAM::Policy', Action: 'Import' },
  ]);

  it('sorts worst first, then by logical ID', () => {
    expect(plan.changes.map((c) => [c.impact, c.logicalId])).toEqual([
      ['destroys', 'Queue'],
      ['destroys', 'UsersTable'],
      ['may-replace', 'Api'],
      ['may-replace', 'Guess'],
      ['security', 'Role'],
      ['removes', 'Old'],
      ['modify', 'Handler'],
      ['add', 'Alpha'],
      ['add', 'Zeta'],
      ['minor', 'V1'],
    ]);
  });

  it('counts by action, replacement and minor', () => {
    expect(plan.counts).toEqual({ added: 4, modified: 4, removed: 2, replaced: 2, minor: 1, total: 10 });
  });

  it('counts an empty plan as zero', () => {
    expect(buildPlan([])).toEqual({
      changes: [],
      counts: { added: 0, modified: 0, removed: 0, replaced: 0, minor: 0, total: 0 },
    });
  });
});

describe('names that are also Object.prototype keys', () => {
  it.each([
    ['constructor', 'constructor'],
    ['toString', 'to string'],
    ['__proto__', 'proto'],
    ['hasOwnProperty', 'has own property'],
    ['valueOf', 'value of'],
  ])('a resource type or property called %s is an unknown one', (name, noun) => {
    const c = classifyChange(
      rc({
        LogicalResourceId: 'X',
        ResourceType: name,
        Action: 'Modify',
        Replacement: 'False',
        Details: [
          prop(name, 'Never'),
          { Target: { Attribute: 'Properties', Name: 'Y', RequiresRecreation: name as 'Never' } },
        ],
      }),
    );
    expect(c).toMatchObject({ resourceType: name, impact: 'modify', reason: `modifies ${noun} X`, dataBearing: false });
    expect(isDataBearing(name)).toBe(false);
  });
});

describe('buildStackedPlan (a stack and its nested stacks)', () => {
  const plan = buildStackedPlan([
    {
      changes: [
        { LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue', Action: 'Remove' },
        { LogicalResourceId: 'Fn', ResourceType: 'AWS::Lambda::Function', Action: 'Add' },
        {
          LogicalResourceId: 'Storage',
          ResourceType: 'AWS::CloudFormation::Stack',
          Action: 'Modify',
          Replacement: 'False',
          ChangeSetId: 'arn:aws:cloudformation:us-east-1:1:changeSet/x/y',
        },
      ],
    },
    {
      stack: 'Storage',
      changes: [
        { LogicalResourceId: 'Orders', ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' },
        { LogicalResourceId: 'Alpha', ResourceType: 'AWS::SNS::Topic', Action: 'Add' },
      ],
    },
    {
      stack: 'Storage/Tables',
      changes: [{ LogicalResourceId: 'Users', ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' }],
    },
  ]);

  it('classifies nested changes by the same rules and sorts worst first across every stack', () => {
    expect(plan.changes.map((c) => [c.stack, c.logicalId, c.impact])).toEqual([
      [undefined, 'Queue', 'destroys'], // an SQS queue holds messages
      ['Storage', 'Orders', 'destroys'],
      ['Storage/Tables', 'Users', 'destroys'],
      [undefined, 'Storage', 'modify'],
      [undefined, 'Fn', 'add'],
      ['Storage', 'Alpha', 'add'],
    ]);
    expect(plan.changes.find((c) => c.logicalId === 'Orders')!.reason).toBe('DELETES table Orders — data will be lost');
  });

  it('ranks the top stack first within an impact, then each nested stack together', () => {
    const destroys = plan.changes.filter((c) => c.impact === 'destroys').map((c) => c.stack ?? '(top)');
    expect(destroys).toEqual(['(top)', 'Storage', 'Storage/Tables']);
  });

  it('counts every stack’s changes, and leaves `stack` out for the top stack', () => {
    expect(plan.counts).toMatchObject({ total: 6, removed: 3, added: 2, modified: 1 });
    expect(plan.changes.find((c) => c.logicalId === 'Fn')).not.toHaveProperty('stack');
  });

  it('is buildPlan for one stack', () => {
    const changes: ResourceChange[] = [{ LogicalResourceId: 'T', ResourceType: 'AWS::SNS::Topic', Action: 'Add' }];
    expect(buildStackedPlan([{ changes }])).toEqual(buildPlan(changes));
  });
  it('is the same plan when built a page at a time (planBuilder), pages in any order', () => {
    const pages = [
      { changes: [{ LogicalResourceId: 'Fn', ResourceType: 'AWS::Lambda::Function', Action: 'Add' }] },
      {
        stack: 'Storage',
        changes: [{ LogicalResourceId: 'Orders', ResourceType: 'AWS::DynamoDB::Table', Action: 'Remove' }],
      },
      { changes: [{ LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue', Action: 'Remove' }] },
      { stack: 'Storage', changes: [{ LogicalResourceId: 'Alpha', ResourceType: 'AWS::SNS::Topic', Action: 'Add' }] },
    ] satisfies Array<{ stack?: string; changes: ResourceChange[] }>;
    const whole = buildStackedPlan([
      { changes: [...pages[0]!.changes, ...pages[2]!.changes] },
      { stack: 'Storage', changes: [...pages[1]!.changes, ...pages[3]!.changes] },
    ]);
    const builder = planBuilder();
    for (const page of [...pages].reverse()) builder.add(page);
    expect(builder.plan()).toEqual(whole);
    expect(whole.changes.map((c) => c.logicalId)).toEqual(['Queue', 'Orders', 'Fn', 'Alpha']);
  });
});
