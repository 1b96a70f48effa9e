// Renders /openapi.yaml with Swagger UI (served from node_modules, see src/ui/routes.ts).
// validatorUrl: null stops Swagger UI from sending the spec to its public validator;
// persistAuthorization stays off so a token typed into "Authorize" is not kept in localStorage.
globalThis.ui = SwaggerUIBundle({
  url: '/openapi.yaml',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
