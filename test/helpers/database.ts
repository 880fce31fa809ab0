import type { Sql } from 'postgres';

/**
 * `create database <name> template <template>`: a copy of the migrated schema in a fraction of a
 * second. PostgreSQL refuses while any session is connected to the template (SQLSTATE 55006),
 * which a session that has just been closed may still briefly be, or while another copy is being
 * made; both pass, so this waits and tries again.
 */
export async function createDatabaseFromTemplate(admin: Sql, name: string, template: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await admin.unsafe(`create database ${name} template ${template}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55006' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
    }
  }
}
