//! The API token: who must present it (anyone, once one is configured; a server bound beyond
//! loopback may not start without one), how it is read from `Authorization: Bearer <token>`,
//! and the middleware that refuses requests without it.
//!
//! Only the token's SHA-256 digest is kept, and digests are compared in constant time, so
//! neither the token's bytes nor its length leak through timing, and no log or `Debug` output
//! can show it.

use std::net::SocketAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::errors::ApiError;

/// Shorter tokens are guessable; 16 random characters are already far out of reach.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The one route open without the token: liveness checks (load balancers, `curl`) carry none.
const HEALTH_PATH: &str = "/api/health/";

/// Why a configured token is refused at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(
        "it has {chars} characters; use at least {MIN_TOKEN_CHARS} random ones \
         (e.g. the output of `openssl rand -hex 32`)"
    )]
    TooShort { chars: usize },
    #[error(
        "it may hold only visible ASCII characters (no spaces), since it travels in an HTTP header"
    )]
    InvalidCharacter,
}

/// A configured API token, held as its SHA-256 digest.
#[derive(Clone)]
pub struct ApiToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

impl ApiToken {
    /// Refuses tokens that are short (the empty one included) or that a client could not
    /// send verbatim in a header.
    pub fn new(token: &str) -> Result<Self, TokenError> {
        let chars = token.chars().count();
        if chars < MIN_TOKEN_CHARS {
            return Err(TokenError::TooShort { chars });
        }
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(TokenError::InvalidCharacter);
        }
        Ok(Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `presented` is the token. Digests of equal length are compared in constant
    /// time, so the comparison takes as long whatever and however long the guess.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        self.digest.ct_eq(&presented).into()
    }
}

/// Why a request is refused with 401.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum AuthFailure {
    #[error("Authentication required: send the API token as `Authorization: Bearer <token>`.")]
    Missing,
    #[error("Invalid API token.")]
    Invalid,
}

impl AuthFailure {
    /// The `WWW-Authenticate` challenge (RFC 6750 §3: an error code only when a token was sent).
    pub fn challenge(self) -> &'static str {
        match self {
            Self::Missing => "Bearer",
            Self::Invalid => "Bearer error=\"invalid_token\"",
        }
    }
}

/// The token of an `Authorization` header value, or `None` when it is not a Bearer
/// credential. The scheme is case-insensitive (RFC 7235).
pub fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Whether a request with this method, path and `Authorization` value may pass.
pub fn authorize(
    token: &ApiToken,
    method: &Method,
    path: &str,
    authorization: Option<&[u8]>,
) -> Result<(), AuthFailure> {
    if method == Method::GET && path == HEALTH_PATH {
        return Ok(());
    }
    let presented = authorization
        .and_then(bearer_token)
        .ok_or(AuthFailure::Missing)?;
    if token.matches(presented) {
        Ok(())
    } else {
        Err(AuthFailure::Invalid)
    }
}

/// Whether this address is reachable from this machine only. IPv4-mapped IPv6 addresses
/// (`::ffff:127.0.0.1`) count as what they map; the unspecified addresses (`0.0.0.0`, `::`)
/// listen on every interface, so they are not loopback.
pub fn is_loopback(address: &SocketAddr) -> bool {
    address.ip().to_canonical().is_loopback()
}

/// The middleware (`actix_web::middleware::from_fn`): with no token configured every request
/// passes; otherwise [`authorize`] decides. It must sit inside the CORS wrapper, which answers
/// preflights before they get here (browsers send them without credentials) and adds CORS
/// headers to the 401s too, so the editor can read them.
pub async fn require_token(
    token: Option<ApiToken>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let verdict = match &token {
        None => Ok(()),
        Some(token) => authorize(
            token,
            req.method(),
            req.path(),
            req.headers()
                .get(header::AUTHORIZATION)
                .map(|value| value.as_bytes()),
        ),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        // Answered here rather than as an `Err`, so it is an ordinary response to the
        // wrappers outside (CORS, the access log, which never prints headers).
        Err(failure) => Ok(req
            .error_response(ApiError::Unauthorized(failure))
            .map_into_right_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef-secret";

    fn token() -> ApiToken {
        ApiToken::new(TOKEN).unwrap()
    }

    #[test]
    fn short_empty_and_unsendable_tokens_are_refused() {
        assert_eq!(
            ApiToken::new("").unwrap_err(),
            TokenError::TooShort { chars: 0 }
        );
        assert_eq!(
            ApiToken::new("fifteen-chars-x").unwrap_err(),
            TokenError::TooShort { chars: 15 }
        );
        for bad in ["sixteen chars ok", "sixteen-chars-ok\n", "sixteen-chärs-ok"] {
            assert_eq!(
                ApiToken::new(bad).unwrap_err(),
                TokenError::InvalidCharacter,
                "{bad:?}"
            );
        }
        assert!(ApiToken::new("sixteen-chars-ok").is_ok());
    }

    #[test]
    fn the_token_matches_itself_only() {
        let token = token();
        assert!(token.matches(TOKEN.as_bytes()));
        for wrong in [
            "",
            "0123456789abcdef-secreT",
            "0123456789abcdef-secret ",
            "x",
        ] {
            assert!(!token.matches(wrong.as_bytes()), "{wrong:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let shown = format!("{:?}", token());
        assert_eq!(shown, "ApiToken(..)");
    }

    #[test]
    fn bearer_credentials_are_parsed() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"BEARER   abc  "), Some(&b"abc"[..]));
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer    ",
            b"Bearerabc",
            b"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            b"abc",
            b"",
        ] {
            assert_eq!(
                bearer_token(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn every_request_but_health_needs_the_token() {
        let token = token();
        let bearer = format!("Bearer {TOKEN}");
        let right = Some(bearer.as_bytes());
        assert_eq!(
            authorize(&token, &Method::GET, "/api/health/", None),
            Ok(())
        );
        assert_eq!(
            authorize(&token, &Method::GET, "/api/projects/", right),
            Ok(())
        );
        assert_eq!(
            authorize(&token, &Method::GET, "/api/projects/", None),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            authorize(&token, &Method::GET, "/media/a.png", Some(b"Basic abc")),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            authorize(
                &token,
                &Method::POST,
                "/api/projects/",
                Some(b"Bearer wrong")
            ),
            Err(AuthFailure::Invalid)
        );
        // Only the exact health route is open: not other methods, not look-alike paths.
        assert_eq!(
            authorize(&token, &Method::POST, "/api/health/", None),
            Err(AuthFailure::Missing)
        );
        assert_eq!(
            authorize(&token, &Method::GET, "/api/health/../projects/", None),
            Err(AuthFailure::Missing)
        );
    }

    #[test]
    fn the_challenge_names_an_error_only_for_a_wrong_token() {
        assert_eq!(AuthFailure::Missing.challenge(), "Bearer");
        assert_eq!(
            AuthFailure::Invalid.challenge(),
            "Bearer error=\"invalid_token\""
        );
    }

    #[test]
    fn loopback_is_told_from_addresses_not_names() {
        for local in [
            "127.0.0.1:8000",
            "127.1.2.3:0",
            "[::1]:8000",
            "[::ffff:127.0.0.1]:80",
        ] {
            let address: SocketAddr = local.parse().unwrap();
            assert!(is_loopback(&address), "{local}");
        }
        for exposed in [
            "0.0.0.0:8000",
            "[::]:8000",
            "192.168.1.5:8000",
            "[::ffff:10.0.0.1]:80",
        ] {
            let address: SocketAddr = exposed.parse().unwrap();
            assert!(!is_loopback(&address), "{exposed}");
        }
    }
}
