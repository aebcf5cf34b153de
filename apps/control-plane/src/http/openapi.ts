import { z } from 'zod';
import { actionsByTarget } from '../ecs/index.ts';

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests. awsJson1_1
 * puts every action on `POST /`, told apart by X-Amz-Target, so each action gets its own
 * fragment path (`/#CreateCluster`) — the convention AWS-compatible servers use to list them.
 */
export function buildOpenApiDocument(version: string) {
  const paths: Record<string, unknown> = {};
  for (const [target, action] of actionsByTarget) {
    const name = target.slice(target.indexOf('.') + 1);
    paths[`/#${name}`] = {
      post: {
        operationId: name,
        summary: action.summary,
        parameters: [
          {
            name: 'X-Amz-Target',
            in: 'header',
            required: true,
            schema: { type: 'string', const: target },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/x-amz-json-1.1': {
              schema: z.toJSONSchema(action.input, { io: 'input', unrepresentable: 'any' }),
            },
          },
        },
        responses: {
          '200': {
            description: 'Success',
            content: { 'application/x-amz-json-1.1': { schema: { type: 'object' } } },
          },
          '400': { description: 'An ECS client error: {"__type": "...Exception", "message": "..."}' },
          '403': { description: 'Missing or invalid SigV4 signature' },
          '500': { description: 'ServerException' },
        },
        security: [{ sigv4: [] }],
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'bosun ECS API', version },
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'AWS Signature Version 4, service "ecs"',
        },
      },
    },
    paths,
  };
}
