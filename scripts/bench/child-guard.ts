// Preloaded (--import) into the service process the bench starts. Its stdin is a
// pipe from the bench: when the bench dies, even by SIGKILL, the pipe closes and
// the service shuts down as on SIGTERM instead of living on unattended.
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
