# One image for both processes: `api` runs server.ts, `worker` runs worker.ts.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm install --no-save tsx@4
COPY . .
USER node
EXPOSE 3000
CMD ["npx", "tsx", "server.ts"]
