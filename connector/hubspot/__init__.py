"""The HubSpot connector (org.forgerock.openicf.connectors.hubspot.HubspotConnector)."""
