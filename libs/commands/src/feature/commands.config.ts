/** The validated configuration, provided to the commands service's classes under this token. */
export const COMMANDS_CONFIG = Symbol('COMMANDS_CONFIG');
