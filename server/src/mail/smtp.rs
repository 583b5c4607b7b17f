//! The SMTP side: a pooled lettre transport built from the settings, the message as it goes
//! on the wire, and what a refusal means for retrying.

use super::MailError;
use crate::config::{MailSettings, SmtpTls};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::{Duration, SystemTime};

/// One message as stored in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutgoingMessage {
    /// Recipient address.
    pub to_address: String,
    /// Recipient name.
    pub to_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub body_text: String,
    /// HTML.
    pub body_html: String,
    /// `<uuid@domain>`, the same on every attempt.
    pub message_id: String,
    /// When it was queued: its `Date`, so a resend is the same message.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Why a delivery attempt failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server is unreachable, timed out, or refused for now (4xx), or our credentials
    /// were refused (fixed by the operator, after which the message must still go).
    Transient(String),
    /// The server refused this recipient or this message for good (5xx), or the message
    /// cannot be built (an address the SMTP grammar does not allow).
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Transient(m) | SendError::Permanent(m) => f.write_str(m),
        }
    }
}

/// Authentication failures (530, 534, 535, 538) are 5xx replies about the account, not the
/// message: the operator fixes the settings and the message must still go.
const AUTH_CODES: &[u16] = &[530, 534, 535, 538];

/// Classifies a lettre error.
pub fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let text = error.to_string();
    match error.status().map(u16::from) {
        Some(code) if error.is_permanent() && !AUTH_CODES.contains(&code) => {
            SendError::Permanent(format!("the SMTP server refused the message: {text}"))
        }
        _ if error.is_timeout() => {
            SendError::Transient(format!("the SMTP server timed out: {text}"))
        }
        _ => SendError::Transient(format!("SMTP: {text}")),
    }
}

/// The platform's SMTP sender: one pooled transport shared by every job.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port (tls)`, for logs.
    pub describe: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.describe)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A transport for the settings (connects lazily, on the first message).
    pub fn new(settings: &MailSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::Settings(format!("MAIL_FROM: {e}")))?;
        let host = settings.smtp_host.as_str();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.smtp_port)
            .timeout(Some(Duration::from_secs(settings.smtp_timeout_secs)))
            .pool_config(
                PoolConfig::new()
                    .max_size(8)
                    .idle_timeout(Duration::from_secs(30)),
            );
        if settings.smtp_tls != SmtpTls::None {
            let parameters = TlsParameters::new(host.to_owned())
                .map_err(|e| MailError::Settings(format!("SMTP_HOST for TLS: {e}")))?;
            builder = builder.tls(match settings.smtp_tls {
                SmtpTls::Starttls => Tls::Required(parameters),
                _ => Tls::Wrapper(parameters),
            });
        }
        if let Some((user, password)) = &settings.smtp_credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let tls = match settings.smtp_tls {
            SmtpTls::None => "plain",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
        };
        Ok(Mailer {
            transport: builder.build(),
            from,
            describe: format!("{host}:{} ({tls})", settings.smtp_port),
        })
    }

    /// The message as it goes on the wire: the same headers on every attempt.
    pub fn build(&self, m: &OutgoingMessage) -> Result<Message, SendError> {
        let address = m.to_address.parse().map_err(|e| {
            SendError::Permanent(format!(
                "the address {:?} cannot be used: {e}",
                m.to_address
            ))
        })?;
        let to = Mailbox::new(m.to_name.clone(), address);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(m.message_id.clone()))
            .date(SystemTime::from(m.created_at))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(m.body_text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(m.body_html.clone()),
                    ),
            )
            .map_err(|e| SendError::Permanent(format!("the message cannot be built: {e}")))
    }

    /// Hands the message to the SMTP server; returns its answer (e.g. its queue id).
    pub async fn send(&self, m: &OutgoingMessage) -> Result<String, SendError> {
        let message = self.build(m)?;
        match self.transport.send(message).await {
            Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Err(error) => Err(classify(&error)),
        }
    }

    /// Connects and says hello (start-up check and the local demo's log line).
    pub async fn check(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{} did not accept a connection", self.describe)),
            Err(e) => Err(format!("{}: {e}", self.describe)),
        }
    }
}
