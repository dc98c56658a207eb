import type { DataSource, EntityManager } from 'typeorm';

import { SerialLanes } from './serial-lanes.js';

const gates = new WeakMap<DataSource, DataGate>();

/**
 * The one way a repository touches its database. TypeORM runs every better-sqlite3 query on one
 * shared connection, so two transactions (or a save, which opens one) started together on SQLite
 * fail with "cannot start a transaction within a transaction"; the gate lets one unit of work in
 * at a time there. PostgreSQL has a pool and real isolation, so work passes straight through.
 */
export class DataGate {
  private readonly lanes = new SerialLanes();
  private readonly serial: boolean;

  private constructor(private readonly dataSource: DataSource) {
    this.serial = dataSource.options.type === 'better-sqlite3';
  }

  static of(dataSource: DataSource): DataGate {
    let gate = gates.get(dataSource);
    if (!gate) {
      gate = new DataGate(dataSource);
      gates.set(dataSource, gate);
    }

    return gate;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    return this.serial ? this.lanes.run('database', work) : work();
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.run(() => this.dataSource.transaction(work));
  }
}
