"""The reference client SDK: talks to a platform to encrypt and decrypt.

- :mod:`~xtdf.client.config`: where the platform is (flags, then upstream's test.env names);
- :mod:`~xtdf.client.transport`, :mod:`~xtdf.client.auth`, :mod:`~xtdf.client.jose`:
  Connect JSON over kept-alive HTTP, client-credentials tokens bound with DPoP;
- :mod:`~xtdf.client.platform_client`: public keys, policy lookups, rewraps;
- :mod:`~xtdf.client.kas`: rewrap request construction and answer unwrapping;
- :mod:`~xtdf.client.autoconfigure`: key split plans from attribute grants and key mappings;
- :mod:`~xtdf.client.allowlist`: which KASes a decrypt may talk to;
- :mod:`~xtdf.client.ztdf`, :mod:`~xtdf.client.nano`: the two formats through the platform;
- :mod:`~xtdf.client.xtenv`, :mod:`~xtdf.client.features`, :mod:`~xtdf.client.install_cli`:
  upstream's ``cli.sh`` contract.

Nothing is imported here, so ``import xtdf.client.x`` costs only what ``x`` needs.
"""
