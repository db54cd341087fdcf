"""Single sign-on with OpenID Connect: « Se connecter avec Microsoft / Google / … ».

Only people the firm already knows get in: an active account, or a pending invitation
(which the sign-in then accepts), matched by a verified email the first time and by the
provider's identity (issuer, subject) after that. Every sign-in ends in
``portal.accounts.flow.finish_sign_in``.
"""
