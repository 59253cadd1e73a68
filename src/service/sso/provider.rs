//! The OpenID Connect relying party, with the `openidconnect` crate: the provider's metadata and
//! keys (discovered at start, discovered again while it was unreachable, keys fetched again when
//! an ID token names a key id we have not seen), the authorization request (code flow with PKCE
//! S256, state and nonce), and the code exchange with the ID token's checks (signature, issuer,
//! audience, `azp`, expiry, nonce).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdTokenClaims, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};

/// The claims of an ID token beyond the standard ones (`oid`, say, for
/// `PINPANEL_OIDC_SUBJECT_CLAIM`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;
type TokenAnswer = StandardTokenResponse<
    IdTokenFields<
        ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
/// The client as discovery makes it: the authorization endpoint set, the token endpoint maybe.
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenAnswer,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How pinpanel is registered with the provider.
#[derive(Clone)]
pub struct Registration {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `PINPANEL_PUBLIC_URL` + `/login/oidc/callback`.
    pub redirect_uri: url::Url,
}

/// Why the provider could not be used or its answer was refused. The text is for the log and,
/// said plainly, for the person; it never holds a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OidcError {
    /// Discovery, the keys or the token endpoint could not be reached.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The token endpoint refused the code (spent, expired, not ours, a wrong verifier).
    #[error("the provider refused the sign-in code: {0}")]
    CodeRefused(String),
    /// The ID token failed a check.
    #[error("the provider's ID token was refused: {0}")]
    BadToken(String),
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone)]
pub struct Verified {
    pub issuer: String,
    /// The standard `sub`.
    pub subject: String,
    /// The extra claims, for a configured subject claim.
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    /// When the person last authenticated at the provider (`auth_time`), if it says.
    pub auth_time: Option<i64>,
}

/// What a sign-in keeps between the redirect and the callback (sealed in the database).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Kept {
    pub verifier: String,
    pub nonce: String,
    /// A confirmation of who one is: the provider must have authenticated the person at or
    /// after this time (unix seconds), not reused an old sign-in.
    #[serde(default)]
    pub fresh_since: Option<i64>,
}

/// The HTTP client the crate talks through: no redirects (the provider's own documents name
/// the URLs it is sent to), timeouts, and a cap on what it reads.
#[derive(Clone)]
struct Http(reqwest::Client);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The most a provider's answer may hold.
const MAX_BODY: usize = 512 * 1024;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError(format!("request: {e}")))?;
            let mut res = self
                .0
                .execute(request)
                .await
                .map_err(|e| HttpError(format!("{e}")))?;
            let mut out = openidconnect::http::Response::builder().status(res.status());
            for (k, v) in res.headers() {
                out = out.header(k, v);
            }
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await.map_err(|e| HttpError(format!("{e}")))? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(HttpError("the answer is too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            out.body(body).map_err(|e| HttpError(format!("{e}")))
        })
    }
}

/// What discovery found.
struct Discovered {
    meta: ProviderMetadataWithLogout,
    end_session: Option<url::Url>,
}

/// The provider, as this instance knows it.
pub struct Provider {
    registration: Registration,
    http: Http,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// When discovery or a key fetch was last tried (so a failing provider is not hammered).
    last_try: Mutex<Option<Instant>>,
    last_keys: Mutex<Option<Instant>>,
}

/// Discovery again after a failure, or the keys again for an unknown key id, at most this often.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The ID token signature algorithms accepted: asymmetric ones only (a shared-secret HS256
/// would let anyone with the client secret mint ID tokens).
const ALGORITHMS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn unreachable(e: impl std::fmt::Display) -> OidcError {
    OidcError::Unreachable(e.to_string())
}

impl Provider {
    /// A provider not yet discovered. An `https://` issuer is required, but for one on this
    /// machine (tests, a local identity provider).
    pub fn new(registration: Registration) -> anyhow::Result<Provider> {
        let issuer = url::Url::parse(&registration.issuer)
            .map_err(|e| anyhow::anyhow!("PINPANEL_OIDC_ISSUER is not a URL: {e}"))?;
        let local = matches!(issuer.host(), Some(url::Host::Domain("localhost")))
            || matches!(issuer.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(issuer.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        if issuer.scheme() != "https" && !local {
            anyhow::bail!("PINPANEL_OIDC_ISSUER must be an https:// URL");
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!local)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("pinpanel/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Provider {
            registration,
            http: Http(http),
            discovered: RwLock::new(None),
            last_try: Mutex::new(None),
            last_keys: Mutex::new(None),
        })
    }

    /// The issuer as configured.
    pub fn issuer(&self) -> &str {
        &self.registration.issuer
    }

    /// Discovers the provider (its metadata and keys). At start, and again on demand while it
    /// has not answered (at most every 30 seconds).
    pub async fn discover(&self) -> Result<(), OidcError> {
        {
            let mut last = self.last_try.lock().map_err(unreachable)?;
            if last.is_some_and(|t| t.elapsed() < RETRY_AFTER) && self.current().is_none() {
                return Err(OidcError::Unreachable(
                    "it did not answer a moment ago".into(),
                ));
            }
            *last = Some(Instant::now());
        }
        let issuer = IssuerUrl::new(self.registration.issuer.clone()).map_err(unreachable)?;
        let meta = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(unreachable)?;
        let end_session = meta
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|e| e.url().clone());
        let found = Arc::new(Discovered { meta, end_session });
        *self.discovered.write().map_err(unreachable)? = Some(found);
        Ok(())
    }

    fn current(&self) -> Option<Arc<Discovered>> {
        self.discovered.read().ok().and_then(|d| d.clone())
    }

    async fn ready(&self) -> Result<Arc<Discovered>, OidcError> {
        if let Some(found) = self.current() {
            return Ok(found);
        }
        self.discover().await?;
        self.current()
            .ok_or_else(|| OidcError::Unreachable("not discovered".into()))
    }

    fn client(&self, found: &Discovered) -> Result<OidcClient, OidcError> {
        let redirect =
            RedirectUrl::new(self.registration.redirect_uri.to_string()).map_err(unreachable)?;
        Ok(Client::from_provider_metadata(
            found.meta.clone(),
            ClientId::new(self.registration.client_id.clone()),
            Some(ClientSecret::new(
                self.registration.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// The origins a sign-in form's redirect goes to (the issuer's and, when discovered, its
    /// authorization endpoint's): the panel's CSP names them in `form-action`, which browsers
    /// apply to a form's redirects too.
    pub fn form_origins(&self) -> Vec<String> {
        let mut origins = Vec::new();
        let issuer = url::Url::parse(&self.registration.issuer).ok();
        let authorize = self
            .current()
            .map(|d| d.meta.authorization_endpoint().url().clone());
        for url in issuer.into_iter().chain(authorize) {
            let origin = url.origin().ascii_serialization();
            if url.origin().is_tuple() && !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        origins
    }

    /// Where the provider's logout is, when it offers one.
    pub fn end_session(&self) -> Option<url::Url> {
        self.current().and_then(|d| d.end_session.clone())
    }

    /// The provider's logout for this client, returning to `after` (RP-initiated logout, with
    /// the client id instead of an ID token: none is kept).
    pub fn logout_url(&self, after: &url::Url) -> Option<url::Url> {
        let mut url = self.end_session()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.registration.client_id)
            .append_pair("post_logout_redirect_uri", after.as_str());
        Some(url)
    }

    /// Starts a sign-in: the provider's authorization URL (code flow, PKCE S256, scopes
    /// `openid email profile`), its `state`, and what the callback needs kept. With
    /// `fresh_since`, the provider is asked to authenticate the person again (`max_age=0`) and
    /// the ID token's `auth_time` must not be older.
    pub async fn authorize(
        &self,
        fresh_since: Option<i64>,
    ) -> Result<(url::Url, String, Kept), OidcError> {
        let found = self.ready().await?;
        let client = self.client(&found)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if fresh_since.is_some() {
            request = request.set_max_age(Duration::ZERO);
        }
        let (url, state, nonce) = request.url();
        let kept = Kept {
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            fresh_since,
        };
        Ok((url, state.secret().clone(), kept))
    }

    /// Exchanges `code` for the person's ID token and checks it.
    pub async fn finish(&self, code: &str, kept: Kept) -> Result<Verified, OidcError> {
        let found = self.ready().await?;
        let client = self.client(&found)?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(unreachable)?
            .set_pkce_verifier(PkceCodeVerifier::new(kept.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => OidcError::CodeRefused(format!(
                    "{}{}",
                    r.error(),
                    r.error_description()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                )),
                // Never the body: it holds the tokens.
                RequestTokenError::Parse(e, _) => {
                    OidcError::BadToken(format!("the token answer did not parse at {}", e.path()))
                }
                RequestTokenError::Request(e) => unreachable(e),
                RequestTokenError::Other(e) => unreachable(e),
            })?;
        let id_token = answer
            .id_token()
            .ok_or_else(|| OidcError::BadToken("the answer has no ID token".into()))?;
        let nonce = Nonce::new(kept.nonce);
        let fresh_since = kept.fresh_since;
        let keys = found.meta.jwks().clone();
        let claims = match self.check(id_token, &keys, &nonce, fresh_since) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key id we have not seen: the provider may have rotated its keys.
                let keys = self.fetch_keys(&found).await?;
                self.check(id_token, &keys, &nonce, fresh_since)
            }
            other => other,
        }
        .map_err(|e| OidcError::BadToken(e.to_string()))?;
        if let Some(azp) = claims.authorized_party() {
            if azp.as_str() != self.registration.client_id {
                return Err(OidcError::BadToken(
                    "the ID token was issued to another client (azp)".into(),
                ));
            }
        }
        Ok(Verified {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            extra: claims.additional_claims().rest.clone(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default(),
            acr: claims.auth_context_ref().map(|a| a.to_string()),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
        })
    }

    fn check(
        &self,
        id_token: &openidconnect::IdToken<
            ExtraClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        keys: &CoreJsonWebKeySet,
        nonce: &Nonce,
        fresh_since: Option<i64>,
    ) -> Result<Claims, ClaimsVerificationError> {
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(self.registration.client_id.clone()),
            ClientSecret::new(self.registration.client_secret.expose_secret().to_owned()),
            IssuerUrl::new(self.registration.issuer.clone())
                .map_err(|e| ClaimsVerificationError::Other(e.to_string()))?,
            keys.clone(),
        )
        .set_allowed_algs(ALGORITHMS.iter().cloned());
        let verifier = match fresh_since {
            // A minute's leeway for the two clocks.
            Some(since) => verifier.set_auth_time_verifier_fn(move |at| match at {
                Some(at) if at.timestamp() >= since - 60 => Ok(()),
                Some(_) => Err("the provider did not ask for the password again".to_owned()),
                None => Err("the ID token does not say when the person signed in".to_owned()),
            }),
            None => verifier,
        };
        id_token.claims(&verifier, nonce).cloned()
    }

    /// Fetches the provider's keys again (at most every 30 seconds) and keeps them.
    async fn fetch_keys(&self, found: &Discovered) -> Result<CoreJsonWebKeySet, OidcError> {
        {
            let mut last = self.last_keys.lock().map_err(unreachable)?;
            if last.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                return Ok(found.meta.jwks().clone());
            }
            *last = Some(Instant::now());
        }
        let keys = CoreJsonWebKeySet::fetch_async(found.meta.jwks_uri(), &self.http)
            .await
            .map_err(unreachable)?;
        let meta = found.meta.clone().set_jwks(keys.clone());
        let fresh = Arc::new(Discovered {
            meta,
            end_session: found.end_session.clone(),
        });
        *self.discovered.write().map_err(unreachable)? = Some(fresh);
        Ok(keys)
    }
}
