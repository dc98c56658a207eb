import { CheckinModule } from '@turnaround/checkin';
import { CommandsModule } from '@turnaround/commands';
import { EscrowModule } from '@turnaround/escrow';
import { loadConfig } from '@turnaround/platform';
import { ProvisioningModule } from '@turnaround/provisioning';
import { createTransport, runMain, startServices } from '@turnaround/runtime';

// The embedded default: all four services in one process, on SQLite and the in-process bus,
// unless DATABASE_URL / AMQP_URL point elsewhere.
runMain(async () => {
  const config = loadConfig();
  const transport = createTransport(config, true);

  return startServices(config, transport, [
    { service: 'checkin', module: CheckinModule.register(config, transport) },
    { service: 'commands', module: CommandsModule.register(config, transport) },
    { service: 'escrow', module: EscrowModule.register(config, transport) },
    { service: 'provisioning', module: ProvisioningModule.register(config, transport) },
  ]);
});
