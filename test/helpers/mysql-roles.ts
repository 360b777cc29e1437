/**
 * The MySQL roles the demo policy's profiles name (`dbRole: qb_agent_read` / `qb_agent_write`): on
 * MySQL every use of a profile's pool starts with SET ROLE, so a test that sends the demo profiles to
 * a MySQL connection needs them on the server, granted to the login user.
 */
import type { TestMysql } from './mariadb.js';

/** qb_agent_read: SELECT on the test database; qb_agent_write: SELECT, INSERT, UPDATE, DELETE on it. */
export async function createDemoRoles(my: TestMysql): Promise<void> {
  const db = `\`${my.database.replaceAll('`', '``')}\``;
  const login = `'${my.user}'@'%'`;
  await my.rootQuery(
    `CREATE ROLE IF NOT EXISTS qb_agent_read; CREATE ROLE IF NOT EXISTS qb_agent_write; ` +
      `GRANT SELECT ON ${db}.* TO qb_agent_read; GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO qb_agent_write; ` +
      `GRANT qb_agent_read TO ${login}; GRANT qb_agent_write TO ${login}`,
  );
}
