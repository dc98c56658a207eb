import { Injectable } from '@nestjs/common';

import { EscrowRepository } from '../data-access/escrow.repository.js';

/** Whether a device has a bootstrap token in force; never the token itself. */
export interface EscrowStatus {
  present: boolean;
  version?: number;
  escrowedAt?: string;
}

/** The read the admin API will use to tell whether an RTS can keep the device's apps (B08). */
@Injectable()
export class EscrowStatusService {
  constructor(private readonly repository: EscrowRepository) {}

  async status(udid: string): Promise<EscrowStatus> {
    const inForce = await this.repository.inForce('bootstrap-token', udid);

    return inForce
      ? { present: true, version: inForce.version, escrowedAt: inForce.escrowedAt.toISOString() }
      : { present: false };
  }
}
