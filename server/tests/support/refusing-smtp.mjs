// An SMTP server that refuses some recipients for good, as a real mail server refuses an
// unknown mailbox: nodemailer's `smtp-server` (pinned in package.json), answering
// `550 5.1.1` to RCPT TO for addresses starting with "nobody" and accepting the rest.
// Usage: node refusing-smtp.mjs PORT   (binds 127.0.0.1; prints "ready" when listening)
import { SMTPServer } from 'smtp-server';

const port = Number(process.argv[2]);
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onRcptTo(address, _session, callback) {
    if (address.address.toLowerCase().startsWith('nobody')) {
      const error = new Error('5.1.1 <' + address.address + '>: Recipient address rejected: User unknown');
      error.responseCode = 550;
      return callback(error);
    }
    return callback();
  },
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => callback(null, 'Queued as refusing-smtp'));
  },
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
