"""The HubSpot connector (org.forgerock.openicf.connectors.hubspot.HubspotConnector)."""

from connector.hubspot.connector import HubspotConnector

__all__ = ["HubspotConnector"]
