import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { mysqlUnavailable, startTestMysql } from '../../helpers/mariadb.js';

const missing = mysqlUnavailable();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(missing !== undefined || process.env.QB_MYSQL_URL !== undefined)('the private MariaDB of the tests', () => {
  it('starts, serves the login user and the superuser, and leaves no process or directory when stopped', async () => {
    const my = (await startTestMysql())!;
    const dir = my.serverDir!;
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
    expect(alive(pid)).toBe(true);
    expect(my.version).toMatch(/MariaDB|^\d/);

    const c = await mysql.createConnection(my.url);
    const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u, database() as d');
    expect(rows[0]).toEqual({ u: `${my.user}@%`, d: my.database });
    // The login user has no global privileges: another database is out of reach.
    await expect(c.query('create database qb_not_allowed')).rejects.toMatchObject({ errno: 1044 });
    await c.end();
    // The wrong password is refused (the user really authenticates).
    await expect(mysql.createConnection({ host: my.host, port: my.port, user: my.user, password: 'wrong' })).rejects.toMatchObject({ errno: 1045 });

    const [root] = await my.rootQuery<{ u: string }>('select current_user() as u');
    expect(root!.u).toMatch(/@localhost$/);

    await my.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
