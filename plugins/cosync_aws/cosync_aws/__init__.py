"""cosync connector for AWS Partner Central (``partnercentral-selling``): see docs/connectors/aws.md."""

__all__: list[str] = []
