/**
 * Top-level statement types by kind. A type in none of these sets (or a type a later parser
 * version adds) is `utility` + `unrecognised_statement`: refused for everyone.
 */

/** Statements that change the schema; write and admin profiles may ask for them with approval. */
export const DDL_STATEMENTS: ReadonlySet<string> = new Set([
  'CreateStmt', 'CreateTableAsStmt', 'ViewStmt', 'IndexStmt', 'AlterTableStmt', 'DropStmt', 'RenameStmt',
  'CommentStmt', 'CreateSchemaStmt', 'CreateSeqStmt', 'AlterSeqStmt', 'CreateFunctionStmt', 'AlterFunctionStmt',
  'CreateTrigStmt', 'RuleStmt', 'CreatePolicyStmt', 'AlterPolicyStmt', 'CreateDomainStmt', 'AlterDomainStmt',
  'CreateEnumStmt', 'AlterEnumStmt', 'CreateRangeStmt', 'CompositeTypeStmt', 'AlterTypeStmt', 'DefineStmt',
  'AlterObjectSchemaStmt', 'AlterObjectDependsStmt', 'RefreshMatViewStmt', 'CreateStatsStmt', 'AlterStatsStmt',
  'CreateForeignTableStmt', 'CreateOpClassStmt', 'CreateOpFamilyStmt', 'AlterOpFamilyStmt', 'AlterOperatorStmt',
  'AlterTSDictionaryStmt', 'AlterTSConfigurationStmt', 'CreateConversionStmt', 'AlterCollationStmt',
  'ReplicaIdentityStmt', 'CreateTransformStmt', 'CreateCastStmt',
]);

/** Statements for database administrators: roles, extensions, ownership, maintenance. */
export const ADMIN_STATEMENTS: ReadonlySet<string> = new Set([
  'CreateRoleStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'DropRoleStmt', 'CreateExtensionStmt', 'AlterExtensionStmt',
  'AlterExtensionContentsStmt', 'VacuumStmt', 'ClusterStmt', 'ReindexStmt', 'ReassignOwnedStmt', 'DropOwnedStmt',
  'AlterOwnerStmt', 'CreateAmStmt', 'SecLabelStmt', 'CreatePublicationStmt', 'AlterPublicationStmt',
  'AlterTableMoveAllStmt',
]);

/** GRANT/REVOKE in all their forms. */
export const PRIVILEGE_STATEMENTS: ReadonlySet<string> = new Set(['GrantStmt', 'GrantRoleStmt', 'AlterDefaultPrivilegesStmt']);

/**
 * Statements that act on the whole server or open connections to other servers; refused for
 * everyone (an operator does these through their own change process).
 */
export const SERVER_LEVEL_STATEMENTS: ReadonlySet<string> = new Set([
  'AlterSystemStmt', 'LoadStmt', 'CreatedbStmt', 'DropdbStmt', 'AlterDatabaseStmt', 'AlterDatabaseSetStmt',
  'AlterDatabaseRefreshCollStmt', 'CreateTableSpaceStmt', 'DropTableSpaceStmt', 'AlterTableSpaceOptionsStmt',
  'CreateSubscriptionStmt', 'AlterSubscriptionStmt', 'DropSubscriptionStmt', 'CreatePLangStmt', 'CheckPointStmt',
  'CreateEventTrigStmt', 'AlterEventTrigStmt', 'CreateFdwStmt', 'AlterFdwStmt', 'CreateForeignServerStmt',
  'AlterForeignServerStmt', 'CreateUserMappingStmt', 'AlterUserMappingStmt', 'DropUserMappingStmt',
  'ImportForeignSchemaStmt',
]);

/** Statements whose effect outlives the request on a pooled connection. */
export const SESSION_STATEMENTS: ReadonlySet<string> = new Set([
  'VariableSetStmt', 'DiscardStmt', 'ConstraintsSetStmt', 'ListenStmt', 'UnlistenStmt', 'PrepareStmt', 'ExecuteStmt',
  'DeallocateStmt', 'DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt',
]);

/** Why a session statement is refused, and what to do instead. */
export function sessionStatementMessage(type: string, node: Record<string, unknown>): string {
  switch (type) {
    case 'VariableSetStmt': {
      const name = typeof node['name'] === 'string' ? node['name'].toLowerCase() : '';
      if (name === 'role' || name === 'session_authorization') {
        return 'SET ROLE and SET SESSION AUTHORIZATION are refused: the broker chooses the database role from your profile. Ask for a profile with the access you need.';
      }
      if (name === 'transaction' || name === 'session characteristics' || name.startsWith('transaction_') || name === 'default_transaction_read_only') {
        return 'SET TRANSACTION and transaction characteristics are refused: the broker sets read-only or read-write mode from your profile and the statement.';
      }
      return 'SET and RESET are refused: settings would carry over to later requests on a pooled connection. Put what you need in the statement itself (for example an explicit schema name instead of search_path).';
    }
    case 'DiscardStmt':
      return 'DISCARD changes session state and is refused; each request already runs on a clean footing.';
    case 'ConstraintsSetStmt':
      return 'SET CONSTRAINTS changes transaction state and is refused; send the statement on its own.';
    case 'ListenStmt':
    case 'UnlistenStmt':
      return 'LISTEN/UNLISTEN subscribe a pooled connection to notifications and are refused.';
    case 'PrepareStmt':
    case 'ExecuteStmt':
    case 'DeallocateStmt':
      return 'PREPARE/EXECUTE/DEALLOCATE are refused: the broker analyses the statement text it is given, and a prepared statement hides what runs. Send the statement itself, with $1, $2… parameters in `params`.';
    default:
      return 'Cursors (DECLARE, FETCH, MOVE, CLOSE) are refused: each request is its own transaction. Send a SELECT with LIMIT/OFFSET or a keyset condition to page through rows.';
  }
}
