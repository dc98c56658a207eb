// Preloaded (--import) into the embedded process only when the bench profiles it: V8 writes the
// --cpu-prof profile when the process exits by itself, never when a signal kills it, and Nest's
// shutdown hooks end the process by re-raising the signal. So the bench asks over IPC instead.
process.on('message', (message) => {
  if (message === 'bench:exit') {
    process.exit(0);
  }
});
// The channel must not keep the process alive, nor change anything else about it.
process.channel?.unref();
