import { PermanentError, TransientError } from '../../src/errors';
import { classifySmtpError } from '../../src/mail/smtpErrors';

const err = (props: Record<string, unknown>) => Object.assign(new Error(String(props.message ?? 'x')), props);

describe('classifySmtpError', () => {
  it('makes a 5xx reply permanent, with the server\'s words', () => {
    const e = classifySmtpError(err({ code: 'EMESSAGE', responseCode: 550, response: '550 5.7.1 refused', command: 'DATA' }), 'mail:25');
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.message).toBe('SMTP server mail:25 rejected the message: 550 5.7.1 refused');
  });

  it('names refused recipients', () => {
    const e = classifySmtpError(err({ code: 'EENVELOPE', responseCode: 550, response: '550 no such user', command: 'RCPT TO', rejected: ['x@y.z'] }), 'mail:25');
    expect(e.message).toBe('SMTP server mail:25 refused a recipient (x@y.z): 550 no such user');
  });

  it('makes a 4xx reply and network faults transient', () => {
    expect(classifySmtpError(err({ responseCode: 451, response: '451 later' }), 'm:25')).toBeInstanceOf(TransientError);
    const refused = classifySmtpError(err({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25' }), 'm:25');
    expect(refused).toBeInstanceOf(TransientError);
    expect(refused.message).toMatch(/^could not reach SMTP server m:25/);
  });

  it('tells how to fix a refused login', () => {
    const e = classifySmtpError(err({ code: 'EAUTH', responseCode: 535, response: '535 bad credentials' }), 'm:587');
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.message).toMatch(/refused the login .* fix smtp.user and smtp.password/);
  });
});
